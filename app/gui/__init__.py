"""Qt only: workers (QObjects on QThreads), viewmodels, views."""
