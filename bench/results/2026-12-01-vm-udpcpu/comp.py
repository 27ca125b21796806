# per-contender paired medians of the differences to kernel (c1), by component, per datagram
import sys, collections, statistics as st
names=sys.argv[2].split(',')
rows=[l.split() for l in open(sys.argv[1])]
by=collections.defaultdict(dict)
for r in rows:
    by[r[1]][int(r[0])]=[float(x) for x in r[2:]]
ref=by['c1']
q1=sorted(v[0] for v in ref.values())[len(ref)//4]
kept={r for r,v in ref.items() if v[0]<=1.15*q1}
print('%-28s %7s %8s %8s %8s %8s %8s %6s'%('contender','n','d_total','d_server','d_client','d_ksoft','d_wakeup','share'))
for i,t in enumerate(sorted(by, key=lambda x:int(x[1:]))):
    d=[]
    for r in kept:
        if r in by[t]:
            a=by[t][r]; b=ref[r]
            ks=lambda v: v[0]-v[3]-v[4]
            d.append((a[0]-b[0], a[3]-b[3], a[4]-b[4], ks(a)-ks(b), a[1]-b[1], a[2]))
    m=[st.median(x[j] for x in d) for j in range(6)]
    print('%-28s %7d %+8.0f %+8.0f %+8.0f %+8.0f %+8.3f %6.2f'%(names[i],len(d),*m))
print('kernel absolute medians: total %.0f server %.0f client %.0f ksoftirqd %.0f wakeups %.3f'%(
    st.median(ref[r][0] for r in kept), st.median(ref[r][3] for r in kept), st.median(ref[r][4] for r in kept),
    st.median(ref[r][0]-ref[r][3]-ref[r][4] for r in kept), st.median(ref[r][1] for r in kept)))
