package lists

// OpenOp opens a stored list operation, for tests that merge by hand.
var OpenOp = openOp

// AD is the associated data of a list operation's ciphertext.
var AD = ad

// EncodeOp encodes a valid operation's plaintext.
var EncodeOp = encodeOp
