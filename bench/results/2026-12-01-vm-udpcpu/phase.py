# per phase (the reference burst fast: <= 1.15 x its lower quartile, or slow), paired medians x kernel
import sys, collections, statistics as st
names=sys.argv[2].split(',')
by=collections.defaultdict(dict)
for l in open(sys.argv[1]):
    r=l.split(); by[r[1]][int(r[0])]=[float(x) for x in r[2:]]
ref=by['c1']; q1=sorted(v[0] for v in ref.values())[len(ref)//4]
for ph,sel in (('fast',lambda v: v<=1.15*q1),('slow',lambda v: v>1.15*q1)):
    R=[r for r,v in ref.items() if sel(v[0])]
    if not R: continue
    print('%s phase: %d rounds, kernel median %.0f ns, wake-ups %.3f' % (ph, len(R), st.median(ref[r][0] for r in R), st.median(ref[r][1] for r in R)))
    for i,t in enumerate(sorted(by,key=lambda x:int(x[1:]))):
        q=[by[t][r][0]/ref[r][0] for r in R if r in by[t]]
        w=[by[t][r][1] for r in R if r in by[t]]
        ds=[by[t][r][3]-ref[r][3] for r in R if r in by[t]]
        dc=[by[t][r][4]-ref[r][4] for r in R if r in by[t]]
        print('   %-26s x%.3f (quartiles %.3f-%.3f)  wake-ups %.3f  d_server %+5.0f  d_client %+5.0f' % (names[i], st.median(q), *st.quantiles(q,n=4)[0::2], st.median(w), st.median(ds), st.median(dc)))
