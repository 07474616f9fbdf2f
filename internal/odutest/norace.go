//go:build !race

package odutest

const raceEnabled = false
