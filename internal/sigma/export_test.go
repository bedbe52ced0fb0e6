package sigma

// EvtxEvents is evtxEvents for the package's external tests.
var EvtxEvents = evtxEvents
