//go:build race

package relay_test

// raceDetector is set when the tests run under the race detector.
const raceDetector = true
