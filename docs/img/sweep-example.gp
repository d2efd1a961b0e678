# Plots the results of examples/sweep-batch-context.json (docs/sweep.md):
#   moesim sweep examples/sweep-batch-context.json -o sweep-example
#   gnuplot -e "csv='sweep-example/results.csv'" docs/img/sweep-example.gp
if (!exists("csv")) csv = 'sweep-example/results.csv'
set terminal pngcairo size 1100,450 font 'DejaVu Sans,11'
set output 'docs/img/sweep-example.png'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 1,2 title 'Mixtral-8x7B decode, 8xH100 (EP8, attention DP8), analytic: points that fit in memory'
set logscale x 2
set xlabel 'batch per device (sequences)'
set grid
set key top left
ok(ctx, col) = (strcol(4) eq 'ok' && $2 == ctx) ? column(col) : NaN
set ylabel 'decode step time = TPOT (ms)'
plot for [ctx in '1024 4096 16384'] csv using 3:(ok(ctx+0, 6) * 1e3) smooth unique with linespoints pt 7 lw 2 title sprintf('context %s', ctx)
set ylabel 'USD per million output tokens'
set logscale y
plot for [ctx in '1024 4096 16384'] csv using 3:(ok(ctx+0, 9)) smooth unique with linespoints pt 7 lw 2 title sprintf('context %s', ctx)
unset multiplot
