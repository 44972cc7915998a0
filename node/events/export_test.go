package events

// AD is the associated data of a post's or an answer's ciphertext.
var AD = ad
