package groupchat

// EncodeText lets tests build message bodies as a sender would.
var EncodeText = encodeText
