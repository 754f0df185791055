# R survey's answers on the fixtures of fixtures.csv, for tests/sampling/test_survey_reference.py.
#
#   Rscript tests/sampling/survey_reference/fixtures.R tests/sampling/survey_reference/fixtures.csv OUT.csv
#
# (Debian: apt-get install r-base-core r-cran-survey.) Writes, per fixture, the stratified mean
# and its standard error (svymean on svydesign(ids = ~1, strata = ~stratum, fpc = ~N): stratified
# simple random sampling without replacement, N the stratum's population) and the Korn–Graubard
# ("beta") interval of svyciprop with its default df = degf(design) = n - H (this survey
# version has no method = "wilson").
# R refuses a stratum with a single review by default (options(survey.lonely.psu = "fail"));
# for fixtures that have one, "certainty" is used (such a stratum adds nothing to the variance)
# and the test compares with that, adding the package's own single-review term by hand: see the
# test's docstring. The output is stored beside this script as survey_outputs.csv.
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
fixtures <- read.csv(args[1], stringsAsFactors = FALSE)
out <- NULL
for (name in unique(fixtures$fixture)) {
  d <- fixtures[fixtures$fixture == name, ]
  lonely <- any(table(d$stratum) == 1)
  options(survey.lonely.psu = if (lonely) "certainty" else "fail")
  design <- svydesign(ids = ~1, strata = ~stratum, fpc = ~N, data = d)
  m <- svymean(~score, design)
  beta <- svyciprop(~score, design, method = "beta", level = 0.95)
  out <- rbind(out, data.frame(
    fixture = name,
    lonely_psu = if (lonely) "certainty" else "fail",
    n = nrow(d),
    strata = length(unique(d$stratum)),
    degf = degf(design),
    mean = unname(coef(m)[1]),
    se = unname(SE(m)[1]),
    beta_low = unname(confint(beta)[1]),
    beta_high = unname(confint(beta)[2]),
    r_version = paste(R.version$major, R.version$minor, sep = "."),
    survey_version = as.character(packageVersion("survey"))
  ))
}
# Every digit R has (%.17g), so the test can demand 1e-6 and more.
out[] <- lapply(out, function(x) if (is.double(x)) sprintf("%.17g", x) else x)
write.csv(out, args[2], row.names = FALSE, quote = FALSE)
