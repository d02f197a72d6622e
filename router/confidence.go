package router

import "math"

// The decision rule's parts that classification needs; the fitting side
// is calibrate.go (left out of the widget's build: kefu_widget tag).

const (
	// confMargin weighs the runner-up in the confidence: best − confMargin
	// × second. Measured on CLINC150 train draws: a close runner-up is the
	// commonest sign of a wrong answer.
	confMargin = 0.5
	// AnswerTarget is the lowest estimated chance of being right at which
	// the model answers (Result.Confidence).
	AnswerTarget = 0.4
)

// scoreFloor is the lowest best score that may answer in a model of n
// intents, whatever the curve says. A shop with a handful of intents is
// asked mostly about other things, and its own examples cannot show that:
// held-out examples of a few well-separated intents all look answerable.
// The floor is the old small-shop threshold (0.42: at least 95 % of
// out-of-scope questions fall through on simulated shops of 4 to 29
// CLINC150 intents) up to six intents, and shrinks smoothly as 1/√n
// beyond, to 0.08 at 150 intents, where the curve decides.
func scoreFloor(n int) float64 {
	return 0.42 * math.Min(1, math.Sqrt(6/float64(n)))
}

// calib is the fitted acceptance rule: one logistic curve per script.
type calib struct {
	latin, cjk curve
}

// curve is P(right | c) = σ(a + b·c).
type curve struct{ a, b float64 }

func (c curve) p(x float64) float64 { return 1 / (1 + math.Exp(-(c.a + c.b*x))) }
