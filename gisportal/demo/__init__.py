"""The generated demo district."""
