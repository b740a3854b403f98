/* Direct cblas_sgemm timing, the baseline for the addon (bench/sgemm.mjs compiles and runs it).
 * usage: sgemm_direct N THREADS [SECONDS]  -> prints "N THREADS GFLOPS" (best of 3 timed rounds) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s N THREADS [SECONDS]\n", argv[0]);
    return 2;
  }
  const int n = atoi(argv[1]), threads = atoi(argv[2]);
  const double seconds = argc > 3 ? atof(argv[3]) : 0.4;
  openblas_set_num_threads(threads);
  float* a = malloc(sizeof(float) * n * n);
  float* b = malloc(sizeof(float) * n * n);
  float* c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) {
    a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    c[i] = 0;
  }
  const double flop = 2.0 * n * n * n;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n); /* warm up */
  double best = 0;
  for (int round = 0; round < 3; round++) {
    int reps = 0;
    const double t0 = now();
    double t;
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
      reps++;
      t = now() - t0;
    } while (t < seconds / 3);
    const double g = flop * reps / t / 1e9;
    if (g > best) best = g;
  }
  printf("%d %d %.1f\n", n, threads, best);
  free(a);
  free(b);
  free(c);
  return 0;
}
