"""The Textual views (desk UI, large screen). Only this package imports Textual."""
