"""The database's tables, as typed SQLAlchemy models: the migrations follow them.

After changing a model, write a migration (``poetry run poe db-revision -m "what changed"``),
read it, apply it (``poetry run poe db-migrate``); ``poe check`` fails while models and migrations
disagree.
"""

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names that are the same in every database, so a migration can name what it drops.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
ITEM_NAME_LENGTH = 200


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Item(Base):
    """The example resource (POST /items, GET /items/{id}): replace it with your own."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ITEM_NAME_LENGTH))
