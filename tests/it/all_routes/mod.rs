mod malformed;
