# Lists, record pages, Versions and the admin show a time the same way, with its time zone
# (TIME_ZONE): "2026-11-21 14:05 UTC".
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
