"""Pieces shared by every feature: vocabularies, column mixins, the fragment/page helper."""
