package backup

import (
	"slices"
	"testing"
)

func TestScheduleMovesTheLargeLateTableToTheSecondStream(t *testing.T) {
	// A small prefix, one table as large as everything else together, a small tail.
	cost := []float64{1, 20, 2, 60, 3, 10}
	side := schedule(cost)
	if !side[3] {
		t.Fatalf("the largest table stays on the first stream: %v", side)
	}
	if got, one := makespan(cost, side), makespan(cost, make([]bool, len(cost))); got >= one {
		t.Errorf("makespan %.1f with the second stream, %.1f without", got, one)
	}
}

func TestScheduleKeepsTablesWhenASecondStreamCannotHelp(t *testing.T) {
	for _, cost := range [][]float64{nil, {5}, {0, 0, 0}} {
		if side := schedule(cost); slices.Contains(side, true) {
			t.Errorf("costs %v: second stream %v", cost, side)
		}
	}
}

func TestMakespanWaitsForTheSecondStream(t *testing.T) {
	// The first stream reaches table 1 at 1, the second finishes it at 10, copies it (3.5).
	if got := makespan([]float64{1, 10}, []bool{false, true}); got != 10+spoolCost*10 {
		t.Errorf("makespan %.2f", got)
	}
}
