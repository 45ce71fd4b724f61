"""How people see and edit: the CLI today; the Qt windows, graph editor and timeline in later waves."""
