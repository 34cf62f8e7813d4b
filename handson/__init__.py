"""Build tools for the Hands-on Deep Learning course: demo runner, summaries, slides."""
