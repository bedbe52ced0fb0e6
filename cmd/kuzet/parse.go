package main

import "github.com/kuzet-kz/kuzet/internal/pipeline/parsecli"

func init() {
	register("parse", "run a normalisation pipeline over raw records and print the events (pipeline authoring)", parsecli.Main)
}
