//! The daemons' tests' process helpers (being moved here from pedserver/tests/common and
//! pedclient/tests/common).
