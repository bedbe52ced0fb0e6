package main

import "github.com/kuzet-kz/kuzet/internal/sigma/sigmacli"

func init() {
	register("sigma", "check Sigma rules, or scan JSON events with them", sigmacli.Main)
}
