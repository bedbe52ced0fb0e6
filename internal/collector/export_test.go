package collector

// Test-only exports.
var (
	PipelineStreams = pipelineStreams
)

// TagInvalidUTF8 is the tag of events whose record was not valid UTF-8.
const TagInvalidUTF8 = tagInvalidUTF8
