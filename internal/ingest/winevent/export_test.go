package winevent

// Hex is hex, for tests.
var Hex = hex
