package collector

import (
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// pipelineStreams opens streams of the declarative pipelines in set.
func pipelineStreams(set *pipeline.Set) StreamFactory {
	return func(name string, opts pipeline.StreamOptions) (Stream, error) {
		return set.NewStream(name, opts)
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
