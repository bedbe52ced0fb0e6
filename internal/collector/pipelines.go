package collector

import (
	"time"

	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// pipelineStreams opens streams of the declarative pipelines in set.
func pipelineStreams(set *pipeline.Set) StreamFactory {
	return func(name string, loc *time.Location, maxRecord int) (Stream, error) {
		return set.NewStream(name, pipeline.StreamOptions{Location: loc, MaxRecord: maxRecord})
	}
}

// DefaultStreams opens streams of the pipelines shipped in pipelines/
// (embedded in the binary).
func DefaultStreams() (StreamFactory, error) {
	set, err := pipeline.Default()
	if err != nil {
		return nil, err
	}
	return pipelineStreams(set), nil
}
