/* Fused passes of the solvers (issue 17), the optional compiled path of
 * pmtheory/solvers/_closed_forms.py (reverse KL's closed form) and pmtheory/solvers/_barrier.py
 * (the evaluations and the final pass of the barrier divergences' root iteration), whose numpy
 * passes stay the reference. Each function loops over the B rows of a
 * (B, K) problem and, within a row, over its K entries in one vectorized loop, so that an
 * entry is read once per pass instead of once per numpy call (a numpy pass here is ~15 calls).
 *
 * Vector exp: glibc's libmvec (x86-64 Linux), reached by declaring exp "omp declare simd"
 * below and compiling with -fopenmp-simd -fno-math-errno (setup.py), without -ffast-math:
 * IEEE semantics (NaN, ±inf, no reassociation) hold outside the reductions, which
 * "omp simd reduction" may reorder. A row's lanes and tail depend on K alone (setup.py
 * turns off peeling for alignment), so a row's answer never depends on the rest of its
 * batch or on where it sits in memory.
 *
 * Shapes: r, lq are rows of K doubles at row strides r_row, q_row (in doubles; q_row = 0 for
 * a reference broadcast over the batch); x, e are (B, K) C-contiguous; per-row outputs (B,).
 * Sources: seed 001 (PMR), Prop 5.1 / eq 5.1.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>

#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double expm1(double);
#pragma omp declare simd notinbranch
double log(double);
#pragma omp declare simd notinbranch
double log1p(double);

/* Sums run in chunks of CHUNK entries, each in the loop's vector accumulators, and the chunk
 * sums are added with Neumaier's compensation: the rounding of a row's sum stays at a few ulps
 * whatever K (one vectorized sum over K = 10^6 entries had lost 5e-14 of Σπ, numpy's pairwise
 * sum 5e-15). */
#define CHUNK 256

typedef struct { double sum, carry; } compensated;

static inline void add_compensated(compensated *c, double x) {
    double t = c->sum + x;
    c->carry += fabs(c->sum) >= fabs(x) ? (c->sum - t) + x : (x - t) + c->sum;
    c->sum = t;
}

/* Inlined into each call with constant flags, so that every variant is a branch-free loop
 * (an out-of-line copy with run-time flags was not vectorized: "control flow in loop"). */
#define FLAT static inline __attribute__((always_inline))

FLAT void logits_row(const double *restrict r, const double *restrict lq, size_t k, double shift, double beta,
                     int divide, int check, double *restrict x, double *restrict e, double *out) {
    double peak = -INFINITY, least = INFINITY;
    long nans = 0; /* a vectorized max drops NaN: counted apart, so that max x is NaN as numpy's */
    compensated total = {0.0, 0.0}, mass = {0.0, 0.0};
    for (size_t start = 0; start < k; start += CHUNK) {
        size_t stop = start + CHUNK < k ? start + CHUNK : k;
        double chunk_total = 0.0, chunk_mass = 0.0;
#pragma omp simd reduction(+ : chunk_total, chunk_mass, nans) reduction(max : peak) reduction(min : least)
        for (size_t j = start; j < stop; j++) {
            double v = r[j] - shift;
            if (divide) v = v / beta;
            v = v + lq[j];
            double ev = exp(v);
            x[j] = v;
            e[j] = ev;
            chunk_total += ev;
            if (check) chunk_mass += exp(lq[j]);
            peak = v > peak ? v : peak;
            nans += v != v;
            least = ev < least ? ev : least;
        }
        add_compensated(&total, chunk_total);
        add_compensated(&mass, chunk_mass);
    }
    out[0] = nans ? NAN : peak, out[1] = total.sum + total.carry, out[2] = mass.sum + mass.carry, out[3] = least;
}

/* Pass 1: x = (r − shift)/β + log q and e^x; per row (max x, Σ e^x, Σ e^{log q} if check,
 * min e^x) into out[4·b + 0..3]. */
void pmt_reverse_kl_logits(const double *r, ptrdiff_t r_row, const double *lq, ptrdiff_t q_row, size_t rows,
                           size_t k, const double *shift, double beta, int check, double *x, double *e,
                           double *out) {
    int divide = beta != 1.0;
    for (size_t b = 0; b < rows; b++) {
        const double *rb = r + (ptrdiff_t)b * r_row, *qb = lq + (ptrdiff_t)b * q_row;
        double *xb = x + b * k, *eb = e + b * k, *ob = out + 4 * b;
        if (divide && check) logits_row(rb, qb, k, shift[b], beta, 1, 1, xb, eb, ob);
        else if (divide) logits_row(rb, qb, k, shift[b], beta, 1, 0, xb, eb, ob);
        else if (check) logits_row(rb, qb, k, shift[b], beta, 0, 1, xb, eb, ob);
        else logits_row(rb, qb, k, shift[b], beta, 0, 0, xb, eb, ob);
    }
}

FLAT void policy_row(const double *restrict r, const double *restrict lq, size_t k, double shift, double beta,
                     int divide, double log_norm, int by_exp, double *restrict x, double *restrict e, double *out) {
    double factor = exp(-log_norm), worst = 0.0;
    long nans = 0; /* as in logits_row: the certificate is NaN where a violation is */
    compensated mass = {0.0, 0.0};
    for (size_t start = 0; start < k; start += CHUNK) {
        size_t stop = start + CHUNK < k ? start + CHUNK : k;
        double chunk_mass = 0.0;
#pragma omp simd reduction(+ : chunk_mass, nans) reduction(max : worst)
        for (size_t j = start; j < stop; j++) {
            double lp = x[j] - log_norm;
            double p = by_exp ? exp(lp) : e[j] * factor;
            double w = shift - r[j];
            if (divide) w = w / beta;
            w = w + log_norm;      /* a − Z = 1 − w */
            double t = lp - lq[j]; /* log(π/q); f'(π/q) = t + 1 */
            double a = fabs(1.0 - w), f = fabs(t + 1.0);
            double scale = 1.0 + (f > a ? f : a); /* not fmax: it does not vectorize */
            double violation = fabs(w + t) / scale;
            x[j] = lp;
            e[j] = p;
            chunk_mass += p;
            worst = violation > worst ? violation : worst;
            nans += violation != violation;
        }
        add_compensated(&mass, chunk_mass);
    }
    out[0] = mass.sum + mass.carry, out[1] = nans ? NAN : worst;
}

/* Pass 2: log π = x − L over x, π over e (e^x·e^{−L}, or e^{x − L} where by_exp[b]), and per
 * row (Σπ, max scaled stationarity violation) into out[2·b + 0..1] (the certificate of
 * _solve_reverse_kl, of what was written). */
void pmt_reverse_kl_policy(const double *r, ptrdiff_t r_row, const double *lq, ptrdiff_t q_row, size_t rows,
                           size_t k, const double *shift, double beta, const double *log_norm,
                           const unsigned char *by_exp, double *x, double *e, double *out) {
    int divide = beta != 1.0;
    for (size_t b = 0; b < rows; b++) {
        const double *rb = r + (ptrdiff_t)b * r_row, *qb = lq + (ptrdiff_t)b * q_row;
        double *xb = x + b * k, *eb = e + b * k, *ob = out + 2 * b;
        if (by_exp[b]) {
            if (divide) policy_row(rb, qb, k, shift[b], beta, 1, log_norm[b], 1, xb, eb, ob);
            else policy_row(rb, qb, k, shift[b], beta, 0, log_norm[b], 1, xb, eb, ob);
        } else {
            if (divide) policy_row(rb, qb, k, shift[b], beta, 1, log_norm[b], 0, xb, eb, ob);
            else policy_row(rb, qb, k, shift[b], beta, 0, log_norm[b], 0, xb, eb, ob);
        }
    }
}

/* The barrier divergences (pmtheory/solvers/_barrier.py): π = q·h(D) with D = Δ + d, for the
 * families below; the constants are pmtheory/divergences.py's. */
enum family {
    FORWARD_KL = 0,   /* h = 1/D, basis x = h (offset 0); S − f'(ρ) = 1/ρ */
    JS = 1,           /* h = 1/(e^D − 1), basis x = 1 + h (offset 1); S − f'(ρ) = log(1 + 1/ρ) */
    HELLINGER = 2,    /* h = D^-2, basis y = d/D; S − f'(ρ) = ρ^-1/2 */
    ALPHA_HALF = 3,   /* alpha:0.5, h = (D/2)^-2 = 4·D^-2, basis y = d/D; S − f'(ρ) = 2·ρ^-1/2 */
};

/* h(D) as the divergence's ratio_at_distance forms it (the final pass). */
FLAT double ratio_at(int family, double distance) {
    switch (family) {
    case FORWARD_KL: return 1.0 / distance;
    case JS: return 1.0 / expm1(distance);
    case HELLINGER: return 1.0 / (distance * distance);
    default: { double half = distance * 0.5; return 1.0 / (half * half); }
    }
}

/* S − f'(ρ) from s = q/π, as distance_at_inverse_ratio forms it. */
FLAT double distance_at_inverse(int family, double s) {
    switch (family) {
    case FORWARD_KL: return s;
    case JS: return log1p(s);
    case HELLINGER: return sqrt(s);
    default: return sqrt(s) / 0.5;
    }
}

FLAT void evaluate_row(int family, const double *restrict gap, const double *restrict q, size_t k, double d,
                       int curvature, double *out) {
    compensated total = {0.0, 0.0}, first = {0.0, 0.0}, second = {0.0, 0.0};
    for (size_t start = 0; start < k; start += CHUNK) {
        size_t stop = start + CHUNK < k ? start + CHUNK : k;
        double chunk_total = 0.0, chunk_first = 0.0, chunk_second = 0.0;
#pragma omp simd reduction(+ : chunk_total, chunk_first, chunk_second)
        for (size_t j = start; j < stop; j++) {
            double distance = gap[j] + d, u, with;
            if (family == FORWARD_KL || family == JS) {
                /* Σu, Σu·h and Σ((u·h)·d)·h, as _Sums._add_block with a basis offset */
                double h = family == JS ? 1.0 / expm1(distance) : 1.0 / distance;
                u = q[j] * h;
                with = h;
                chunk_total += u;
                chunk_first += u * h;
                if (curvature) chunk_second += ((u * h) * d) * h;
            } else {
                /* Σu, Σu·y and Σ(u·y)·y with y = d/D, as ratio_and_basis forms h and y */
                double inverse = 1.0 / distance;
                double h = inverse * inverse;
                if (family == ALPHA_HALF) h = h * 4.0;
                with = inverse * d;
                u = q[j] * h;
                chunk_total += u;
                chunk_first += u * with;
                if (curvature) chunk_second += (u * with) * with;
            }
        }
        add_compensated(&total, chunk_total);
        add_compensated(&first, chunk_first);
        add_compensated(&second, chunk_second);
    }
    out[0] = total.sum + total.carry, out[1] = first.sum + first.carry, out[2] = second.sum + second.carry;
}

/* One evaluation of the root iteration at d[b] per row: (Σu, Σu·h or Σu·y, and the curvature
 * sum if curvature, else 0) into out[3·b + 0..2] (see evaluate_row). gap and q: (B, K)
 * C-contiguous. */
void pmt_barrier_evaluate(int family, const double *gap, const double *q, size_t rows, size_t k, const double *d,
                          int curvature, double *out) {
    for (size_t b = 0; b < rows; b++) {
        const double *g = gap + b * k, *w = q + b * k;
        double *o = out + 3 * b;
        switch (family * 2 + (curvature != 0)) {
        case 0: evaluate_row(FORWARD_KL, g, w, k, d[b], 0, o); break;
        case 1: evaluate_row(FORWARD_KL, g, w, k, d[b], 1, o); break;
        case 2: evaluate_row(JS, g, w, k, d[b], 0, o); break;
        case 3: evaluate_row(JS, g, w, k, d[b], 1, o); break;
        case 4: evaluate_row(HELLINGER, g, w, k, d[b], 0, o); break;
        case 5: evaluate_row(HELLINGER, g, w, k, d[b], 1, o); break;
        case 6: evaluate_row(ALPHA_HALF, g, w, k, d[b], 0, o); break;
        default: evaluate_row(ALPHA_HALF, g, w, k, d[b], 1, o); break;
        }
    }
}

FLAT void final_row(int family, double *restrict gap, double *restrict q, size_t k, double d, double sup,
                    double *out) {
    compensated mass = {0.0, 0.0};
    double least = INFINITY, worst = 0.0;
    long nans = 0;
    for (size_t start = 0; start < k; start += CHUNK) {
        size_t stop = start + CHUNK < k ? start + CHUNK : k;
        double chunk_mass = 0.0;
#pragma omp simd reduction(+ : chunk_mass, nans) reduction(min : least) reduction(max : worst)
        for (size_t j = start; j < stop; j++) {
            double distance = gap[j] + d;
            double p = ratio_at(family, distance) * q[j];
            double back = distance_at_inverse(family, q[j] / p); /* S − f'(π/q) of the written π */
            double a = fabs(sup - back), b = fabs(sup - distance);
            double scale = 1.0 + (b > a ? b : a);
            double violation = fabs(distance - back) / scale;
            q[j] = p;
            gap[j] = log(p);
            chunk_mass += p;
            least = p < least ? p : least;
            worst = violation > worst ? violation : worst;
            nans += violation != violation;
        }
        add_compensated(&mass, chunk_mass);
    }
    out[0] = mass.sum + mass.carry, out[1] = least, out[2] = nans ? NAN : worst;
}

/* The final pass of _barrier._final_linear_pass at d[b] per row: π = q·h(Δ + d) over q, log π
 * over gap, and (Σπ, min π, max scaled stationarity violation) into out[3·b + 0..2]; sup is
 * S = sup f'. A violation is NaN where π underflowed (q/π = inf): such rows have min π below
 * _TINY and are certified again in log space by the caller, as on the numpy path. */
void pmt_barrier_final(int family, double *gap, double *q, size_t rows, size_t k, const double *d, double sup,
                       double *out) {
    for (size_t b = 0; b < rows; b++) {
        double *g = gap + b * k, *w = q + b * k, *o = out + 3 * b;
        switch (family) {
        case FORWARD_KL: final_row(FORWARD_KL, g, w, k, d[b], sup, o); break;
        case JS: final_row(JS, g, w, k, d[b], sup, o); break;
        case HELLINGER: final_row(HELLINGER, g, w, k, d[b], sup, o); break;
        default: final_row(ALPHA_HALF, g, w, k, d[b], sup, o); break;
        }
    }
}

/* 1 if this CPU has the vector extensions the file was compiled for (-march=native at build
 * time), else 0: a checkout built on one machine and run on another would otherwise die of an
 * illegal instruction. Compiled for the x86-64 baseline, so that the check itself runs anywhere. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("arch=x86-64"))) int pmt_cpu_supported(void) {
    __builtin_cpu_init();
    int ok = 1;
#ifdef __AVX__
    ok &= __builtin_cpu_supports("avx") != 0;
#endif
#ifdef __AVX2__
    ok &= __builtin_cpu_supports("avx2") != 0;
#endif
#ifdef __FMA__
    ok &= __builtin_cpu_supports("fma") != 0;
#endif
#ifdef __AVX512F__
    ok &= __builtin_cpu_supports("avx512f") != 0;
#endif
#ifdef __AVX512DQ__
    ok &= __builtin_cpu_supports("avx512dq") != 0;
#endif
#ifdef __AVX512VL__
    ok &= __builtin_cpu_supports("avx512vl") != 0;
#endif
#ifdef __AVX512BW__
    ok &= __builtin_cpu_supports("avx512bw") != 0;
#endif
    return ok;
}
#else
int pmt_cpu_supported(void) { return 1; }
#endif

/* An importable module, so that setuptools builds it like any extension and Python finds it;
 * the functions above are called through ctypes (pmtheory/solvers/_kernel.py). */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fused", "Fused solver passes (called through ctypes).", -1, NULL};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
