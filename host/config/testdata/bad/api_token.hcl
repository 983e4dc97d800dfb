# A token with a space: reported without echoing the secret.
api {
  listen = "[::]:8080"
  token  = "correct horse battery staple"
}
