"""Dates and numbers read the same in every language: ISO 8601 dates, '.' as the decimal mark (issue 18).

Input formats are Django's for the language with ISO first, so a form shows its dates as YYYY-MM-DD.
"""

from django.conf.locale.zh_Hans import formats as django_formats

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "m-d"
DATE_INPUT_FORMATS = ["%Y-%m-%d", *(f for f in django_formats.DATE_INPUT_FORMATS if f != "%Y-%m-%d")]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    *(f for f in django_formats.DATETIME_INPUT_FORMATS if f not in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")),
]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
