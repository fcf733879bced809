"""Pathway dtype -> Arrow type -> DuckDB type, in one table, plus the Python -> Arrow step.

The mapping follows Pathway 0.33's native DuckDB writer:

============================  ==============  =====================================
Pathway                       DuckDB          Python value from the engine
============================  ==============  =====================================
bool                          BOOLEAN         bool
int                           BIGINT          int
float                         DOUBLE          float
str                           VARCHAR         str
bytes                         BLOB            bytes
Pointer                       VARCHAR         pw.Pointer, written as ``str(pointer)``
DateTimeNaive                 TIMESTAMP       pd.Timestamp
DateTimeUtc                   TIMESTAMP       pd.Timestamp (tz-aware), UTC wall clock
Duration                      INTERVAL        pd.Timedelta
Json                          JSON            pw.Json, written as its JSON text
list[T], tuple[T, ...]        T[]             tuple
tuple[T1, T2, ...] (mixed)    JSON            tuple, written as a JSON array
np.ndarray (float / int)      DOUBLE[] / BIGINT[]  np.ndarray (NaN and inf kept)
pw.PyObjectWrapper            BLOB            Pathway's bincode (pathway.engine.serialize)
Optional[T]                   T, nullable     None or T
============================  ==============  =====================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from pathway.internals import dtype as dt

Convert = Callable[[object], object]


@dataclass(frozen=True)
class ColumnType:
    """How one Pathway column travels: DuckDB type, Arrow type, per-value conversion."""

    duckdb: str
    arrow: pa.DataType
    nullable: bool
    convert: Convert | None  # applied to non-None values before Arrow; None = pass through


class UnsupportedType(ValueError):
    pass


_SIMPLE: dict[dt.DType, tuple[str, pa.DataType, Convert | None]] = {
    dt.BOOL: ("BOOLEAN", pa.bool_(), None),
    dt.INT: ("BIGINT", pa.int64(), None),
    dt.FLOAT: ("DOUBLE", pa.float64(), None),
    dt.STR: ("VARCHAR", pa.string(), None),
    dt.BYTES: ("BLOB", pa.binary(), None),
    # Timestamps: pyarrow reads pd.Timestamp natively; an aware one becomes its UTC value.
    dt.DATE_TIME_NAIVE: ("TIMESTAMP", pa.timestamp("us"), None),
    dt.DATE_TIME_UTC: ("TIMESTAMP", pa.timestamp("us"), None),
    dt.DURATION: ("INTERVAL", pa.duration("us"), None),
    dt.JSON: ("JSON", pa.string(), str),
}


def column_type(dtype: dt.DType) -> ColumnType:
    """The travel plan of a Pathway column type; raises UnsupportedType if it has none."""
    nullable = isinstance(dtype, dt.Optional)
    inner = dtype.wrapped if nullable else dtype
    duck, arrow, convert = _plain(inner)
    return ColumnType(duck, arrow, nullable, convert)


def _plain(dtype: dt.DType) -> tuple[str, pa.DataType, Convert | None]:
    if isinstance(dtype, dt.Optional):
        # Optional inside a list: elements may be None, the list type is the same.
        return _plain(dtype.wrapped)
    if dtype in _SIMPLE:
        return _SIMPLE[dtype]
    if isinstance(dtype, dt.Pointer):
        return ("VARCHAR", pa.string(), str)
    if isinstance(dtype, dt.List):
        return _list_of(dtype.wrapped)
    if isinstance(dtype, dt.Tuple):
        if len(set(dtype.args)) != 1:
            # No list type fits mixed elements: a JSON array, as the native writer does.
            return ("JSON", pa.string(), _json_array)
        return _list_of(dtype.args[0])
    if isinstance(dtype, dt.Array):
        return _array(dtype)
    if isinstance(dtype, dt.PyObjectWrapper):
        return ("BLOB", pa.binary(), _engine_bytes)
    raise UnsupportedType(
        f"Pathway type {dtype} has no DuckDB counterpart; declare a concrete type "
        "(e.g. pw.apply_with_type(..., str, ...) or pw.cast) before writing")


def _engine_bytes(value) -> bytes:
    """Pathway's own bincode encoding of a value; pathway.engine.deserialize reads it back."""
    from pathway.engine import serialize

    return serialize(value)


def _json_array(values) -> str:
    from pathway.internals.json import Json

    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if hasattr(v, "tolist"):  # numpy arrays and scalars
            return v.tolist()
        if isinstance(v, (str, int, float, bool, type(None), Json)) or hasattr(v, "isoformat") \
                or hasattr(v, "total_seconds"):
            return v  # Json.dumps encodes Json, timestamps and durations
        return str(v)  # e.g. a Pointer, in its usual text form

    return Json.dumps(plain(tuple(values)))


def _list_of(element: dt.DType) -> tuple[str, pa.DataType, Convert | None]:
    duck, arrow, convert = _plain(element)
    if convert is None:
        return (f"{duck}[]", pa.list_(arrow), None)

    def convert_list(values, convert=convert):
        return [None if v is None else convert(v) for v in values]

    return (f"{duck}[]", pa.list_(arrow), convert_list)


def _array(dtype: dt.Array) -> tuple[str, pa.DataType, Convert | None]:
    duck, arrow = ("BIGINT", pa.int64()) if dtype.wrapped == dt.INT else ("DOUBLE", pa.float64())
    n_dim = dtype.n_dim or 1
    for _ in range(n_dim):
        duck, arrow = duck + "[]", pa.list_(arrow)
    if dtype.n_dim is None:
        # Unknown rank: the column is created one-dimensional, so only 1-D values fit; other
        # ranks are refused (as the native writer does) rather than flattened out of shape.
        return (duck, arrow, _one_dimensional)
    return (duck, arrow, lambda a: a.tolist())


class ValueShapeError(TypeError):
    """A value whose rank does not fit its column."""


def _one_dimensional(a) -> list:
    if a.ndim != 1:
        raise ValueShapeError(
            f"got a {a.ndim}-dimensional array (shape {a.shape}) in a numpy array column declared "
            "without its number of dimensions, which is stored as a one-dimensional list; declare "
            "the dimensions in the schema, e.g. np.ndarray[tuple[int, int], np.dtype[np.float64]] "
            "for 2-D values, or reshape the values to 1-D")
    return a.tolist()


# Existing destination columns the sink also accepts, beyond its own type: only types that
# hold every value of it unchanged. Not TIMESTAMPTZ for TIMESTAMP (the session time zone would
# shift the values), not TIMESTAMP_NS (a narrower range), not DOUBLE for BIGINT (rounding).
_WIDER: dict[str, frozenset[str]] = {
    "BIGINT": frozenset({"HUGEINT"}),
    "SMALLINT": frozenset({"INTEGER", "BIGINT", "HUGEINT"}),
    "JSON": frozenset({"VARCHAR"}),  # the JSON text, kept as text
}


def column_fits(found: str, wanted: str) -> bool:
    """Can an existing column of DuckDB type `found` take the values the sink writes as
    `wanted` (a type from this module's table, or `T[]` of one)?"""
    found, wanted = " ".join(found.upper().split()), " ".join(wanted.upper().split())
    if found == wanted:
        return True
    if found.endswith("[]") and wanted.endswith("[]"):
        return column_fits(found[:-2], wanted[:-2])
    return found in _WIDER.get(wanted, ())


def to_arrow(values, ctype: ColumnType) -> pa.Array:
    """One buffered column of Python values -> an Arrow array of the column's type."""
    convert = ctype.convert
    if convert is not None:
        if ctype.nullable:
            values = [None if v is None else convert(v) for v in values]
        else:
            values = [convert(v) for v in values]
    return pa.array(values, type=ctype.arrow)


# --- DuckDB -> Pathway, for readers of a written table -------------------------------

_FROM_DUCKDB: dict[str, dt.DType] = {
    "BOOLEAN": dt.BOOL,
    "TINYINT": dt.INT, "SMALLINT": dt.INT, "INTEGER": dt.INT, "BIGINT": dt.INT, "HUGEINT": dt.INT,
    "UTINYINT": dt.INT, "USMALLINT": dt.INT, "UINTEGER": dt.INT, "UBIGINT": dt.INT,
    "FLOAT": dt.FLOAT, "DOUBLE": dt.FLOAT,
    "VARCHAR": dt.STR, "BLOB": dt.BYTES,
    "TIMESTAMP": dt.DATE_TIME_NAIVE, "TIMESTAMP WITH TIME ZONE": dt.DATE_TIME_UTC,
    "INTERVAL": dt.DURATION, "JSON": dt.JSON,
}


def pathway_dtype(duckdb_type: str, *, nullable: bool = False) -> dt.DType:
    """The Pathway dtype a reader should declare for a DuckDB column type."""
    name = duckdb_type.upper().strip()
    if name.endswith("[]"):
        result: dt.DType = dt.List(pathway_dtype(name[:-2]))
    elif name.startswith("DECIMAL"):
        result = dt.FLOAT
    elif name in _FROM_DUCKDB:
        result = _FROM_DUCKDB[name]
    else:
        raise UnsupportedType(f"DuckDB type {duckdb_type} has no Pathway counterpart")
    return dt.Optional(result) if nullable else result
