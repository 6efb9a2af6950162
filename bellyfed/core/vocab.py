"""Closed vocabularies shared by the schema, the forms and the demo data.

The database enforces each of these with a CHECK constraint, so changing one needs a migration.
"""

DIETARY_TAGS = (
    "halal",
    "vegetarian",
    "vegan",
    "no-pork-no-lard",
    "gluten-free",
    "contains-nuts",
    "contains-seafood",
)
TASTE_STATUSES = ("acceptable", "second_chance", "dissatisfied")
ROLES = ("diner", "admin")
PRICE_LEVELS = (1, 2, 3, 4)  # $ to $$$$
SPICE_LEVELS = range(0, 6)  # 0 = not spicy, 5 = very spicy
VOTE_VALUES = (-1, 1)  # dislike / like on dishes; not helpful / helpful on reviews
CONTACT_LINKS = ("phone", "website", "directions")  # tracked at /go/<restaurant>/<link>
PHOTO_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")
# Weekdays follow Python's date.weekday(): 0 = Monday ... 6 = Sunday.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def sql_in(values: tuple) -> str:
    """Render a vocabulary as a SQL list for CHECK constraints (only our own constants)."""
    return ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
