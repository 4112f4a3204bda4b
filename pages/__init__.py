"""The website's pages: each reads its filters, calls one ui view, and stops (app.py runs them)."""
