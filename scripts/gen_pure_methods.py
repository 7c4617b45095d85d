#!/usr/bin/python3
"""Prints the C initializer lines of pure_methods in src/pyknown.c.

    /usr/bin/python3 scripts/gen_pure_methods.py

A method is listed when some common type the notebooks use has it (pandas' DataFrame,
Series, Index, GroupBy, Rolling, Resampler and accessors, numpy's ndarray and scalars,
the immutable builtins), plus the read-only methods of scikit-learn estimators, dict,
list and set (EXTRA) — and no common type changes its receiver with it (MUTATORS:
list.append, set.add, dict.update, ndarray.sort, a random generator's draws, fit,
torch's Module.eval/train, DataFrame.pipe, which hands the frame to any function).
A name both pure somewhere and mutating elsewhere counts as mutating: the analysis
cannot tell the receiver's type. Sorted by byte value for the binary search.
"""
import numpy as np
import pandas as pd
import pandas.core.arrays.categorical
import pandas.core.indexes.accessors
import pandas.core.resample
import pandas.core.strings.accessor
import pandas.core.window.rolling

TYPES = [
    pd.DataFrame, pd.Series, pd.Index, pd.DatetimeIndex, pd.Timestamp, pd.Categorical,
    pd.core.groupby.DataFrameGroupBy, pd.core.groupby.SeriesGroupBy,
    pd.core.strings.accessor.StringMethods, pd.core.window.rolling.Rolling,
    pd.core.resample.Resampler, pd.core.indexes.accessors.DatetimeProperties,
    pd.core.arrays.categorical.CategoricalAccessor,
    np.ndarray, np.generic, str, bytes, int, float, tuple, frozenset,
]

EXTRA = """
predict predict_proba predict_log_proba decision_function score score_samples transform
inverse_transform get_params get_feature_names_out get_support kneighbors apply
decision_path staged_predict staged_predict_proba
keys values items get copy count index union intersection difference
symmetric_difference issubset issuperset isdisjoint
savefig show plot hist boxplot head tail describe info dtypes
""".split()

MUTATORS = set("""
add add_categories append extend insert remove pop popitem clear sort reverse update
setdefault discard intersection_update difference_update symmetric_difference_update
appendleft extendleft popleft rotate fill resize put partition itemset setfield setflags
set_value putmask write writelines read readline readlines seek truncate close flush send
throw fit fit_transform fit_predict partial_fit set_params set_output fit_resample
beta binomial bytes chisquare choice choices dirichlet exponential gamma geometric gumbel
hypergeometric integers laplace logistic lognormal logseries multinomial
multivariate_normal negative_binomial noncentral_chisquare noncentral_f normal pareto
permutation permuted poisson power rand randint randn random random_integers random_sample
ranf rayleigh sample seed set_state setstate shuffle standard_cauchy standard_exponential
standard_gamma standard_normal standard_t tomaxint triangular uniform vonmises wald weibull
zipf gauss getrandbits randbytes randrange jumped advance spawn
eval train pipe
""".split())


def public_methods(t):
    for name in dir(t):
        if name.startswith("_"):
            continue
        try:
            if callable(getattr(t, name)):
                yield name
        except Exception:  # descriptors that refuse class access
            continue


def main():
    names = set(EXTRA)
    for t in TYPES:
        names.update(public_methods(t))
    pure = sorted(names - MUTATORS, key=lambda n: n.encode())
    line = "   "
    for name in pure:
        item = f' "{name}",'
        if len(line) + len(item) > 96:
            print(line)
            line = "   "
        line += item
    print(line)


if __name__ == "__main__":
    main()
