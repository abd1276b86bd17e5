"""tenfold."""
