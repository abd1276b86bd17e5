"""CUGE-mini: datasets built from shipped text, generators and the included systems."""
