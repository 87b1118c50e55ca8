{
  "targets": [
    {
      "target_name": "flock",
      "sources": ["flock.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
