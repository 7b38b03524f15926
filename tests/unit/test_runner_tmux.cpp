// Placeholder for the tmux runner tests.
