/* The sgemm roofline: direct cblas_sgemm calls (row-major, alpha 1, beta 0), timed with the same rule
 * as bench/cases/common.mjs measure(): warm-up, then REPEATS timed repeats of whole calls lasting at
 * least MIN_TIME seconds each (fewer repeats, never below 3, when a call is slow); prints JSON with the
 * median/min/max GFLOP/s per shape. bench/run.mjs compiles it into bench/.build/ at bench time:
 *   gcc -O2 -o bench/.build/roofline bench/roofline.c -lopenblas
 * usage: roofline THREADS REPEATS WARMUP_TIME MIN_TIME MAX_CASE_TIME NAME:M,N,K,TA,TB ...
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* mulberry32, as in bench/cases/common.mjs gemmData (values in [-0.5, 0.5)) */
static void fill(float* p, long n, unsigned seed) {
  unsigned a = seed;
  for (long i = 0; i < n; i++) {
    a += 0x6d2b79f5u;
    unsigned t = a;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    p[i] = (float)((double)(t ^ (t >> 14)) / 4294967296.0 - 0.5);
  }
}

int main(int argc, char** argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s THREADS REPEATS WARMUP_TIME MIN_TIME MAX_CASE_TIME NAME:M,N,K,TA,TB ...\n", argv[0]);
    return 2;
  }
  const int threads = atoi(argv[1]), maxRepeats = atoi(argv[2]);
  const double warmupTime = atof(argv[3]), minTime = atof(argv[4]), maxCaseTime = atof(argv[5]);
  openblas_set_num_threads(threads);
  printf("{\"engine\":\"roofline\",\"threads\":%d,\"openblasConfig\":\"%s\",\"openblasCore\":\"%s\",\"rows\":[",
         openblas_get_num_threads(), openblas_get_config(), openblas_get_corename());
  for (int s = 6; s < argc; s++) {
    char name[128];
    int m, n, k, ta, tb;
    const char* colon = strchr(argv[s], ':');
    if (!colon || colon - argv[s] >= (long)sizeof name || sscanf(colon + 1, "%d,%d,%d,%d,%d", &m, &n, &k, &ta, &tb) != 5) {
      fprintf(stderr, "bad shape '%s' (expected NAME:M,N,K,TA,TB)\n", argv[s]);
      return 2;
    }
    memcpy(name, argv[s], colon - argv[s]);
    name[colon - argv[s]] = 0;
    float* a = malloc(sizeof(float) * (long)m * k);
    float* b = malloc(sizeof(float) * (long)k * n);
    float* c = calloc((long)m * n, sizeof(float));
    fill(a, (long)m * k, 1);
    fill(b, (long)k * n, 2);
    const int lda = ta ? m : k, ldb = tb ? k : n;
    const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
#define CALL() cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n)
    const double w0 = now();
    long calls = 0;
    for (;;) {
      CALL();
      calls++;
      const double el = now() - w0;
      if (calls >= 2 && el >= warmupTime) break;
      if (calls >= 2 && el > maxCaseTime / 4) break;
    }
    const double perCall = (now() - w0) / calls;
    int repeats = (int)(maxCaseTime / (perCall > minTime ? perCall : minTime));
    if (repeats > maxRepeats) repeats = maxRepeats;
    if (repeats < 3) repeats = 3;
    double* g = malloc(sizeof(double) * repeats);
    const double flop = 2.0 * m * n * k;
    for (int r = 0; r < repeats; r++) {
      long reps = 0;
      const double t0 = now();
      double t;
      do {
        CALL();
        reps++;
        t = now() - t0;
      } while (t < minTime);
      g[r] = flop * reps / t / 1e9;
    }
    qsort(g, repeats, sizeof(double), cmp);
    const double med = repeats % 2 ? g[repeats / 2] : (g[repeats / 2 - 1] + g[repeats / 2]) / 2;
    printf("%s{\"case\":\"sgemm\",\"shape\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"ta\":%d,\"tb\":%d,\"flop\":%.0f,"
           "\"unit\":\"GFLOP/s\",\"higherIsBetter\":true,\"median\":%.4f,\"min\":%.4f,\"max\":%.4f,\"repeats\":%d,"
           "\"secPerCall\":%.9g,\"check\":%.6g}",
           s > 6 ? "," : "", name, m, n, k, ta, tb, flop, med, g[0], g[repeats - 1], repeats, flop / med / 1e9,
           (double)c[(long)m * n / 2]);
    fflush(stdout);
    free(g);
    free(a);
    free(b);
    free(c);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("],\"cpuSeconds\":%.3f}\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6);
  return 0;
}
