"""The gettext catalogs (kk, ru) as package data, so an installed bot finds them."""
