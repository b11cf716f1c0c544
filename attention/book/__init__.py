"""What serves the book's site rather than attention itself: the figure style
(`plotting`), numbers in prose (`prose`), the measuring tools and the benchmark
(`measure`, `benchmark`), and which chapter teaches which version (`chapters`)."""
