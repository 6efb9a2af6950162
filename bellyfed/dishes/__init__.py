"""Dishes: dish types, menus, prices, and the dish cards shown everywhere."""
