"""The AE CRF, its casebook panel, navigation items and patient-date provider."""
