"""Never finishes its answer cell, hoping to hang the grading run."""
while True:
    pass
