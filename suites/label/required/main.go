// Command required prints the labels CI (.ci/run) requires to run, one per line: label.Required,
// and with -docker (Docker answers here) label.Container as well.
package main

import (
	"flag"
	"fmt"
	"slices"

	"github.com/edmsdr/edmsdr/suites/label"
)

func main() {
	docker := flag.Bool("docker", false, "Docker answers: require the container specs too")
	flag.Parse()
	labels := label.Required
	if *docker {
		labels = slices.Concat(labels, []string{label.Container})
	}
	for _, l := range labels {
		fmt.Println(l)
	}
}
