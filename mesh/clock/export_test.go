package clock

// SkewOf judges a set of peers' offsets.
var SkewOf = skewOf
