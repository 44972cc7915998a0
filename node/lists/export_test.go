package lists

// OpenOp opens a stored list operation, for tests that merge by hand.
var OpenOp = openOp
