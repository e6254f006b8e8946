"""Sentences the services keep in English (a red flag's text and its statistics, a board
block's detail and what clears it, how a figure is computed), said in the language of a
page or of the report.

The services keep these sentences in English: they are part of answers the API shares and
keeps for a version of the data, whatever language asked. Each sentence shape is one
whole message here, with named placeholders; a page matches the English sentence to its
shape and says the message in its language, the figures, dates and labels in it written
for that language. A sentence of no known shape is shown as it is (the Ukrainian page
crawl in tests/test_i18n.py fails on one).

>>> from kuznia.i18n import language
>>> with language("uk"):
...     say_sentence("C000391 orders 1,200 units; its deliveries bring 1,350")
'C000391 замовляє 1\\xa0200 од.; постачання за ним дають 1\\xa0350'
>>> say_sentence("C000391 orders 1,200 units; its deliveries bring 1,350")
'C000391 orders 1,200 units; its deliveries bring 1,350'
>>> with language("uk"):
...     say_sentence("not a sentence of a known shape")
'not a sentence of a known shape'
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from kuznia import i18n
from kuznia.i18n import N_, gettext
from kuznia.words import LABELS, say

SHAPES = (
    # red flags: what is wrong (their statistics, in parentheses, are said on their own)
    N_("%(contract)s pays %(price)s per unit of %(product)s; the other %(peers)s contracts "
       "for it signed within %(days)s days paid %(low)s to %(high)s (median %(median)s; "
       "%(ratio)s times it). Its prices vary by about %(vary)s around their peers, so this "
       "is %(z)s times that"),
    N_("%(contract)s buys %(product)s from a trader (%(producer)s) at %(price)s a unit, "
       "%(ratio)s times the median of %(makers)s makers' contracts signed within %(days)s "
       "days (%(median)s)"),
    N_("%(producer)s's price for %(product)s rose from %(first)s to %(last)s over "
       "%(contracts)s contracts"),
    N_("%(producer)s holds %(share)s of the %(units)s units contracted for %(product)s; "
       "%(producers)s producers in all, HHI %(hhi)s"),
    N_("%(contract)s orders %(ordered)s units; its deliveries bring %(delivered)s"),
    N_("%(contract)s was due %(due)s (%(days)s days ago); %(delivered)s of %(ordered)s "
       "units delivered (%(short)s short)"),
    N_("%(rejected)s of the %(delivered)s units delivered under %(contract)s were not "
       "accepted (%(share)s)"),
    N_("delivery %(delivery)s of %(contract)s (%(units)s units) came %(on)s, %(days)s days "
       "after the due date %(due)s, %(times)s times the %(lead)s days from signing to the "
       "due date"),
    N_("delivery %(delivery)s of %(contract)s (%(units)s units) came %(on)s, %(days)s days "
       "after the due date %(due)s"),
    N_("%(producer)s was late on %(late)s of its %(contracts)s contracts (%(share)s); the "
       "other producers on %(others)s"),
    N_("%(contract)s was updated %(on)s: its value went from %(before)s to %(after)s (in "
       "its own currency; %(updates)s update(s) raising its value or quantity in all)"),
    N_("%(contract)s was updated %(times)s times after it was first imported"),
    N_("%(uses)s uses of lot %(lot)s are dated before its delivery on %(on)s (the first in "
       "%(month)s)"),
    N_("%(used)s units of lot %(lot)s were used; %(accepted)s were accepted"),
    N_("%(uses)s uses of %(product)s by %(producer)s are dated after today (the first "
       "%(first)s)"),
    N_("%(operator)s reports %(per_use)s confirmed effects per use of %(product)s over "
       "%(uses)s uses; the other operators %(others)s"),
    N_("%(operator)s's confirmed effects per use of %(product)s jumped to %(per_use)s in "
       "%(month)s from %(before)s before, beyond the other operators' change that month"),
    # red flags: the vault's insider risks (kuznia.services.vault_oversight)
    N_("%(account)s took copies of %(documents)s documents within %(hours)s hours, from "
       "%(start)s"),
    N_("%(account)s took %(copies)s copies outside working hours (%(start)s:00-%(end)s:00 "
       "UTC on working days), the first at %(first)s"),
    N_("%(account)s took %(copies)s copies in the last %(days)s days of their licence (the "
       "first %(left)s days before licence %(licence)s expired)"),
    N_("%(account)s was refused %(times)s times within %(days)s days, from %(start)s (the "
       "last: %(reason)s)"),
    # why the vault gave or refused a copy (kuznia.services.vault; the specific before the
    # general: "licence L1 is not on record" is not a status)
    N_("no such document"),
    N_("no such account"),
    N_("the account is disabled"),
    N_("the account is not a producer's (its role is %(role)s); only producers a live "
       "licence names receive copies"),
    N_("licence %(licence)s is not on record"),
    N_("licence %(licence)s does not name producer %(producer)s"),
    N_("licence %(licence)s is not granted (it is %(status)s)"),
    N_("licence %(licence)s is granted only from %(on)s"),
    N_("licence %(licence)s expired on %(on)s"),
    N_("licence %(licence)s is not live on %(on)s"),
    N_("licence %(licence)s names producer %(producer)s and is live on %(on)s"),
    N_("licence %(licence)s is %(status)s"),
    N_("the partner's key was destroyed; its 1 document can be read by no one"),
    N_("the partner's key was destroyed; its %(held)s documents can be read by no one"),
    # red flags: how sure
    N_("t on %(df)s degrees of freedom, p %(p)s, below %(bar)s after allowing for "
       "%(tested)s contracts"),
    N_("%(rise)s a year; t = %(t)s on %(df)s degrees of freedom against the noise of the "
       "product's prices, p %(p)s below %(bar)s after allowing for %(tested)s series"),
    N_("one-sided binomial p %(p)s, below %(bar)s after allowing for %(tested)s producers"),
    N_("p %(p)s, allowing for chance, for effects clustering %(dispersion)s times beyond it "
       "and for the other operators differing by %(cv)s among themselves; the bar, over "
       "%(tested)s operator-product pairs, is %(bar)s"),
    N_("p %(p)s, bar %(bar)s over %(tested)s operator-months"),
    # board blocks: what is wrong
    N_("%(mode)s fix in %(version)s: %(status)s; severity %(severity)s, %(rate)s failures "
       "per 100 uses after the fix"),
    N_("%(mode)s fix in %(version)s: %(status)s; severity %(severity)s, %(rate)s failures "
       "per 100 uses before the fix"),
    N_("%(mode)s fix in %(version)s: %(status)s; severity %(severity)s, %(rate)s failures "
       "per 100 uses all uses"),
    N_("%(mode)s: %(failures)s failures in %(uses)s uses (%(rate)s per 100), severity "
       "%(severity)s, no corrective action"),
    N_("%(accepted)s of %(ordered)s accepted, due %(due)s"),
    # board blocks: what clears them
    N_("Cleared when version %(version)s and later show fewer %(mode)s failures per use "
       "than the versions before, with %(confidence)s confidence: the uses so far show "
       "%(version2)s did not remove even %(reduction)s of them, so a new fix is needed"),
    N_("Cleared when version %(version)s and later show fewer %(mode)s failures per use "
       "than the versions before, with %(confidence)s confidence: about %(uses)s more uses "
       "of %(version2)s needed"),
    N_("Cleared when version %(version)s and later show fewer %(mode)s failures per use "
       "than the versions before, with %(confidence)s confidence: the uses of %(version2)s "
       "so far do not show it yet"),
    N_("Cleared when a corrective action is opened for %(mode)s (its fix is then judged on "
       "the uses), or when these failures fall below %(threshold)s per 100 uses: about "
       "%(uses)s more uses without one"),
    N_("Cleared when a corrective action is opened for %(mode)s (its fix is then judged on "
       "the uses)"),
    N_("Cleared when %(units)s more units of contract %(contract)s are accepted"),
    N_("%(rejected)s of %(delivered)s rejected (contract %(contract)s)"),
    N_("Cleared when contract %(contract)s has all %(units)s units accepted (a lot delivered "
       "to make good the rejected units)"),
    # how a figure is computed
    N_("cost per effect = cost of the units used / confirmed effects, in %(currency)s; "
       "low-high is a %(level)s%% interval from a Gamma-Poisson model of effects per use "
       "(Jeffreys prior), widened by each group's dispersion (how much more effects per use "
       "vary than Poisson counts; 1 = as Poisson): uses are taken as independent given the "
       "rate"),
    N_("%(groups)s groups have no confirmed effect yet: no figure and no upper end, only a "
       "lower end"),
    N_("%(uses)s uses have no price from %(producer)s's own contracts (no lot of its "
       "contracts and no contract of its for their product): they are left unpriced, not "
       "priced at other producers' prices, and their groups show no cost"),
    N_("%(uses)s uses have no known price (no contract for their product): their groups "
       "show no cost"),
    N_("producers are ranked within each product by cost per effect with their effect rate "
       "shrunk towards the product's (empirical Bayes, Marshall 1991, allowing for the "
       "product's dispersion): small samples move most, and producers whose rates do not "
       "differ beyond chance share one rate; a producer ties with the one ranked above it "
       "unless it is worse with 90%% probability (rank_tied); p_best is its probability of "
       "being the product's cheapest per effect, from draws of every producer's rate with "
       "the spread between producers as uncertain as the data leave it (producers that "
       "cannot be told apart share it about equally)"),
    N_("units priced by their lot's contract: %(lot)s; by %(producer)s's own average price: "
       "%(own)s; unpriced: %(unpriced)s (only the producer's own contracts price its "
       "figures)"),
    N_("units priced by their lot's contract: %(lot)s; by the producer's average price: "
       "%(producer)s; by the product's average or unknown: %(other)s"),
    N_("the power law does not fit the versions (chi-square p = %(p)s): reliability changes "
       "by version in steps the curve does not follow, so nothing is projected from it; the "
       "latest version %(version)s has its own figure"),
    N_("two versions: the power law passes through both, so its fit cannot be tested; the "
       "projection is the curve's, read it with the latest version's own figure"),
    N_("the power law fits the versions (chi-square p = %(p)s)"),
    N_("time-terminated: failures counted per version over all uses recorded so far, not "
       "stopped at a failure; uses independent given the design (no lot effect), the "
       "failure chance a power law of cumulative uses; Fisher-matrix 90%% interval"),
    N_("version %(version)s is not in versions yet"),
    N_("no uses before the fixed version to compare with"),
    N_("the failure mode has not been seen"),
    N_("too few failures before the fix: more uses after it alone cannot settle it"),
    # why there is no growth fit
    N_("needs uses of at least two versions"),
    N_("need failures in more than the first interval to see a trend"),
    N_("need two or more increasing interval ends after 0"),
    N_("the failures all fall late: no finite growth fit"),
    N_("every stage needs at least one use"),
    N_("the fit is degenerate (beta %(beta)s): failures bunch at the end"),
    N_("the fit is degenerate (beta %(beta)s): too few failures spread over the versions"),
    # where a simulation's strike figures come from
    N_("regions table"),
    N_("strikes history"),
    # what is wrong with a row of a file (a column's problem, read beside its column)
    N_("repeats the key of an earlier line of this file with other content"),
    N_("holds a NUL (zero) byte, which is not text"),
    N_("holds a control, invisible or right-to-left character (shown as \\u....); an id is "
       "written with visible characters"),
    N_("may not be '.' or '..' (they name folders, not records)"),
    N_("appears twice in the header"),
    N_("is not a column of %(table)s (expected: %(columns)s)"),
    N_("is required but missing from the header"),
    N_("is not a whole number"),
    N_("is not a number"),
    N_("is not an ISO date (YYYY-MM-DD)"),
    N_("is required"),
    N_("must be one of %(choices)s"),
    N_("is not a three-letter currency code"),
    N_("is longer than %(max)s characters"),
    N_("is not a finite number"),
    N_("is out of range (at most %(max)s in size)"),
    N_("is out of range (at most %(max)s)"),
    N_("must be at least %(min)s"),
    N_("must be greater than %(min)s"),
    # what is wrong with a row across columns and tables (kuznia.ingest.rules)
    N_("no product with this id; import products first"),
    N_("no producer with this id; import producers first"),
    N_("no contract with this id; import contracts first"),
    N_("no site with this id; import sites first"),
    N_("no partner with this id; import partners first"),
    N_("no licence with this id; import licences first"),
    N_("the workspace currency %(currency)s has rate 1"),
    N_("no rate to %(currency)s for this currency; add it with 'kuznia import rates'"),
    N_("is before %(column)s"),
    N_("is more than the quantity delivered"),
    N_("already belongs to another delivery"),
    N_("is already the lot of an earlier delivery in this file"),
    N_("is not a known version of this product; import versions first"),
    N_("no delivery with this lot; import deliveries first"),
    N_("was delivered for another product"),
    N_("differs from the producer of the lot"),
    N_("must be 0 unless the outcome is effect"),
    N_("must be at least 1 when the outcome is effect"),
    N_("is required when the outcome is failure"),
    N_("is more than the capacity"),
    N_("must not be negative"),
    N_("must be 1 (minor) to 4 (critical)"),
    N_("must be between 0 and 1"),
    N_("is required when the status is damaged"),
    N_("is repairs started a month: a whole number (0, 1, 2, ...)"),
    N_("differs between rows of the same repair point and product"),
    N_("names producers that are not known; import producers first"),
    N_("names no producer"),
    N_("is required when the status is granted or revoked"),
    N_("must be empty unless the status is granted or revoked"),
    # what is wrong with a file as a whole, or a line it cannot read (kuznia.ingest.readers)
    N_("is %(length)s characters long; a cell holds at most %(max)s"),
    N_("no such file"),
    N_("is a folder, not a file"),
    N_("is not a regular file (a named pipe or a device?); save the rows to a file first"),
    N_("cannot be read: %(reason)s"),
    N_("the header holds a carriage return (CR) inside it: save the file with one kind of "
       "line end (CR LF, LF, or CR alone as old Mac files have)"),
    N_("is not UTF-8 text (save the file as 'CSV UTF-8')"),
    N_("the header is not UTF-8 text (save the file as 'CSV UTF-8')"),
    N_("the file has no header"),
    N_("is not a text file (it holds NUL bytes)"),
    N_("expected %(expected)s values, found %(found)s"),
    N_("holds a value (or a row) longer than %(mib)s MiB; a cell holds at most %(max)s "
       "characters"),
    N_("cannot be read as CSV: %(reason)s"),
    N_("not a readable XLSX workbook: %(reason)s"),
    N_("%(part)s holds a text of more than %(bytes)s bytes; a cell holds at most %(max)s "
       "characters"),
    N_("the sheet (%(sheet)s) claims row %(row)s; a sheet holds at most %(max)s rows (split "
       "the file, or send CSV)"),
    N_("the sheet has no header"),
    # what is wrong with an offer sent through the portal, or a plan's offers file
    N_("no such producer among yours: an offer is sent by its own producer"),
    N_("effects per unit is the ministry's estimate from the uses: leave it empty"),
    N_("not given, and no use of this product to estimate it from"),
    # a plan: how the solve ended (kuznia.planning.highs; what stopped it said on its own)
    N_("optimal"),
    N_("feasible"),
    N_("infeasible"),
    N_("unbounded"),
    N_("best found within %(limit)s, gap %(gap)s"),
    N_("best found within %(limit)s"),
    N_("no solution found within %(limit)s"),
    N_("the limits"),
    N_("the solver's limits"),
    N_("the time limit"),
    N_("the iteration limit"),
    N_("the solution limit"),
    N_("an interruption"),
    N_("the memory limit"),
    N_("the objective bound"),
    N_("the objective target"),
    N_("the solver stopped before finding any plan (%(outcome)s); raise the time limit"),
    N_("%(outcome)s: the best plan found before the solver stopped, not proven the best; a "
       "longer time limit may find a better one"),
    # a plan: why it buys nothing (kuznia.planning.explain.why_nothing)
    N_("nothing bought: no plan better than nothing found within %(limit)s; raise the time "
       "limit"),
    N_("nothing bought: %(why)s"),
    N_("no offer adds expected effects (every rate is 0)"),
    N_("every offer's smallest order costs more than the budget of %(budget)s (the cheapest "
       "that adds effects: %(product)s from %(producer)s, %(cost)s)"),
    N_("the %(share)s producer cap lets no unit be bought: every product within the budget "
       "has offers from too few producers (%(products)s)"),
    N_("no offer adds expected effects within the budget and every limit at once; relax the "
       "caps or the minimum shares one at a time to see which one stops it"),
    # a plan: what binds (kuznia.planning.explain.binding)
    N_("%(producer)s is at capacity for %(product)s (%(units)s units)"),
    N_("the %(share)s producer cap binds on %(product)s (%(producers)s)"),
    N_("the %(share)s region cap binds on %(region)s"),
    N_("the %(share)s minimum for %(category)s binds: %(spent)s goes there"),
    N_("the requirement of %(units)s %(product)s binds"),
    N_("every offer that adds effects is at capacity: %(left)s of the budget is left unspent"),
    N_("the budget binds: %(left)s is left, less than any further lot that adds effects"),
    N_("... and %(more)s more limits at their bound"),
    # a plan: why no plan meets the limits (kuznia.planning.explain.infeasible_reasons)
    N_("%(units)s %(product)s are required, but no offer is for %(product2)s"),
    N_("%(units)s %(product)s are required, but the offers can make only %(most)s"),
    N_("the required %(units)s %(product)s cost %(cost)s, the budget is %(budget)s"),
    N_("%(product)s has offers from %(producers)s producer(s), so a %(share)s cap per producer "
       "lets no unit of it be bought"),
    N_("together the requirements cost at least %(cost)s, the budget is %(budget)s"),
    N_("the category minimums add up to %(share)s of the budget"),
    N_("at least %(share)s of the budget (%(amount)s) must go to %(category)s, but its offers "
       "can absorb only %(absorbed)s"),
    N_("offers come from %(regions)s region(s); a %(share)s cap per region limits spending to "
       "%(total)s of it"),
    N_("no plan meets every limit at once; relax the requirements, the minimum category "
       "shares or the caps one at a time to find the conflict"),
    # a plan: the limits the greedy rule breaks (kuznia.planning.explain.violations)
    N_("spends %(spent)s, over the budget of %(budget)s"),
    N_("%(units)s units of %(product)s from %(producer)s: not 0 or a whole number of lots "
       "between the minimum order and capacity"),
    N_("%(producer)s has %(share)s of %(product)s, over the %(cap)s producer cap"),
    N_("%(region)s takes %(share)s of the spend, over the %(cap)s region cap"),
    N_("%(category)s gets %(amount)s, under the %(share)s minimum"),
    N_("%(got)s %(product)s, under the %(units)s required"),
    # a plan: what it gives, against the greedy rule, and what more budget buys
    # (kuznia.services.planning)
    N_("%(expected)s expected effects (90%%: %(low)s - %(high)s) for %(cost)s; the greedy "
       "rule gets %(greedy)s for %(greedy_cost)s (%(gain)s) and breaks %(breaks)s"),
    N_("%(expected)s expected effects (90%%: %(low)s - %(high)s) for %(cost)s; the greedy "
       "rule gets %(greedy)s for %(greedy_cost)s (%(gain)s)"),
    N_("chosen for its own worst %(level)s: over %(draws)s draws of all the rates at once, its "
       "worst %(level2)s average %(average)s effects (its %(level3)s quantile: %(quantile)s); "
       "the plan for the expected rates averages %(mean_plan)s there; the figures above are "
       "at the expected rates"),
    N_("chosen for its own worst %(level)s: over %(draws)s draws of all the rates at once, its "
       "worst %(level2)s average %(average)s effects (its %(level3)s quantile: %(quantile)s); "
       "the figures above are at the expected rates"),
    N_("%(count)s offers left out: no effects_per_unit given and no use of the product to "
       "estimate it from (%(offers)s)"),
    N_("%(count)s offers left out: the licence they need is not live on %(on)s (%(offers)s)"),
    N_("more budget lowers the expected effects: the minimum category shares grow with the "
       "budget and move money to offers that buy fewer effects (%(rate)s per further 1,000, "
       "LP relaxation)"),
    N_("more budget buys nothing: the limits or the offers' capacity bind before the money "
       "runs out"),
    N_("each further %(step)s of budget buys about %(more)s more expected effects, for any "
       "budget (LP relaxation: the integer plan gains in whole lots)"),
    N_("the next %(room)s of budget buys about %(more)s more expected effects; past a budget "
       "of %(holds_to)s more buys less (LP relaxation: the integer plan gains in whole lots)"),
    N_("each further %(step)s of budget buys about %(more)s more expected effects, up to a "
       "budget of %(holds_to)s; past it more buys less (LP relaxation: the integer plan gains "
       "in whole lots)"),
    # a producer's scorecard
    N_("Lots delivered on time"),
    N_("Units accepted"),
    N_("Failures per 100 uses"),
    # where an offer came from
    N_("sent by account %(account)s on %(on)s through the portal (form)"),
    N_("sent by account %(account)s on %(on)s through the portal (upload of %(file)s)"),
    N_("imported by %(account)s on %(on)s from %(file)s"),
    N_("where it came from is not recorded"),
    # what the command line shows of a plan, a repair plan and a licence's value
    N_("%(effects)s expected effects (90%%: %(low)s - %(high)s) for %(cost)s; the greedy rule "
       "gets %(greedy)s for %(greedy_cost)s (%(gain)s)"),
    N_("each further %(step)s of budget buys about %(more)s more expected effects, up to a "
       "budget of %(to)s; past it more buys less (LP relaxation: the integer plan gains in "
       "whole lots)"),
    N_("each further %(step)s of budget buys about %(more)s more expected effects, for any "
       "budget (LP relaxation: the integer plan gains in whole lots)"),
    N_("the next %(room)s of budget buys about %(more)s more expected effects; past a budget "
       "of %(to)s more buys less (LP relaxation: the integer plan gains in whole lots)"),
    N_("more budget buys nothing: the limits or the offers' capacity bind before the money "
       "runs out"),
    N_("%(producer)s is at capacity for %(product)s (%(units)s units)"),
    N_("every offer that adds effects is at capacity: %(left)s of the budget is left unspent"),
    N_("the budget binds: %(left)s is left, less than any further lot that adds effects"),
    N_("licence %(licence)s is not live on %(on)s"),
    N_("no licence is pending (requested or in review)"),
    N_("days saved: over the items placed with and without the licence, days until back in "
       "service without it less with it (against sending them abroad where that is the other "
       "way)"),
    N_("days saved: over the items placed with and without the licence, days until back in "
       "service without it less with it (against sending them abroad where that is the other "
       "way); effects gained: the allocation plan's expected effects at the budget "
       "%(budget)s, with the licence less without it"),
    # why the vault gave a copy or refused one, and how a found copy was traced
    N_("licence %(licence)s names producer %(producer)s and is live on %(on)s"),
    N_("licence %(licence)s does not name producer %(producer)s"),
    N_("licence %(licence)s is not on record"),
    N_("licence %(licence)s is revoked"),
    N_("licence %(licence)s is denied"),
    N_("licence %(licence)s is not granted (it is %(status)s)"),
    N_("licence %(licence)s is granted only from %(on)s"),
    N_("licence %(licence)s expired on %(on)s"),
    N_("no such document"),
    N_("no such account"),
    N_("the account is disabled"),
    N_("the account is not a producer's (its role is %(role)s); only producers a live "
       "licence names receive copies"),
    N_("the partner's key was destroyed; its %(held)s document can be read by no one"),
    N_("the partner's key was destroyed; its %(held)s documents can be read by no one"),
    N_("the copy's hash (the very file issued)"),
    # how a copy was traced when its hash no longer matches (kuznia.services.vault.trace)
    N_("the copy id in its pdf metadata (the file was changed since)"),
    N_("the copy id in its pdf stamp (the file was changed since)"),
    N_("the copy id in its zip notice (the file was changed since)"),
    # why an audit chain does not hold (kuznia.services.audit_check; a deep check's reason
    # follows the table and key it names, said by ``say_chain_reason``)
    N_("the chain is empty, but the workspace exists: its events were deleted"),
    N_("the chain does not start with the workspace's creation: it was cut and restarted"),
    N_("the head kept elsewhere (%(head)s...) is not in the chain: events were cut off or "
       "rewritten"),
    N_("link to the previous event is broken: the event before it was removed, edited or "
       "moved"),
    N_("link to the previous event is broken: expected event %(event)s here"),
    N_("its content does not match its hash (edited)"),
    N_("event ids jump from %(before)s to %(after)s (renumbered)"),
    N_("its content does not match its hash (edited outside Kuznia)"),
    N_("it names no audited write (inserted outside Kuznia)"),
    N_("holds %(rows)s rows where no event recorded %(recorded)s, or rows differ from what it "
       "recorded (rows removed, added or rewritten with their hashes)"),
    N_("holds %(rows)s rows where event %(event)s recorded %(recorded)s, or rows differ from "
       "what it recorded (rows removed, added or rewritten with their hashes)"),
    N_("differs from what event %(event)s recorded (edited outside Kuznia)"),
    N_("differs from what event %(event)s recorded"),
    N_("the portal's answers, replies, attachments or offer sendings differ from what no "
       "event recorded (changed outside Kuznia)"),
    N_("the portal's answers, replies, attachments or offer sendings differ from what event "
       "%(event)s recorded (changed outside Kuznia)"),
    N_("its content does not match its SHA-256 (edited outside Kuznia)"),
    N_("the accounts differ from what event %(event)s recorded (an account, role, scope, "
       "token, or a password or token hash, changed outside Kuznia)"),
    N_("no audited write made this row (inserted outside Kuznia)"),
    N_("event %(event)s wrote this row, and it is gone (deleted outside Kuznia)"),
    N_("chunks of no document (inserted outside Kuznia)"),
    N_("the sealed chunks differ from those stored (edited, removed or reordered outside "
       "Kuznia)"),
    N_("holds %(changes)s changes where the event updated %(rows)s rows (the history of "
       "updates was edited outside Kuznia)"),
    N_("its changes differ from what the event recorded (the history of updates was edited "
       "outside Kuznia)"),
    N_("changes are recorded under an event that wrote none (inserted outside Kuznia)"),
    N_("differs from the producers its licence names (changed outside Kuznia)"),
    N_("the kept aggregate differs from one rebuilt from the uses"),
    # a licence's worth when nothing can be bought today (kuznia.services.licence_value)
    # the line a flagged price crossed, in words (kuznia.services.flag_evidence)
    N_("above this line a price stands out from its peers beyond chance (their median and "
       "robust spread, allowing for every contract tested) and is at least %(ratio)s times "
       "their median"),
    N_("%(ratio)s × the makers' median: a trader's price above it"),
    N_("as things stand nothing can be bought: %(why)s"),
    # ... and why (the planner's refusal, kuznia.services.planning.allocate)
    N_("%(source)s: every offer needs a licence that is not live on %(day)s (%(offers)s); "
       "nothing can be bought"),
    N_("%(source)s: no offer with any capacity; nothing can be bought"),
    N_("offers table"),
    # what the command line's parser (click, inside Typer) says of a command line
    N_("No such command %(name)s.. Did you mean %(suggestions)s?"),  # before the shorter
    N_("No such command %(name)s."),
    N_("No such option: %(name)s (Possible options: %(options)s)"),
    N_("No such option: %(name)s Did you mean %(suggestion)s?"),
    N_("No such option: %(name)s"),
    N_("Missing option %(name)s."),
    N_("Missing argument %(name)s."),
    N_("Missing parameter %(name)s."),
    N_("Invalid value for %(name)s: %(problem)s"),
    N_("%(value)s is not a valid %(kind)s."),
    N_("%(value)s is not in the range %(range)s."),
    N_("Got unexpected extra argument(s) (%(args)s)"),
    N_("Option %(name)s requires an argument."),
    # an offer left out for its licence (kuznia.services.planning: FPV-A/P002 (licence L-2)),
    # in a list of them; last, as the most general shape
    N_("%(offer)s (licence %(licence)s)"),
)

# what a problem of an import shows as its value, where a rule writes it in words: the
# value's shape by the problem's message (only there: a value is otherwise a cell as it is)
VALUES = {
    "already belongs to another delivery": N_("%(lot)s (delivery %(delivery)s)"),
    "is already the lot of an earlier delivery in this file": N_("%(lot)s (line %(line)s)"),
    "was delivered for another product": N_("%(lot)s is %(product)s"),
    "differs from the producer of the lot": N_("%(producer)s vs lot's %(lot_producer)s"),
    "repeats the key of an earlier line of this file with other content":
        N_("%(key)s (first on line %(line)s)"),
}

_PLACE = re.compile(r"%\((\w+)\)s")
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_DAY_EN = re.compile(r"\d{1,2}\s[A-Z][a-z]{2}\s\d{4}")
_SHORT_MONEY = re.compile(r"(-?[\d,]+\.\d)([Mk])")
_OFFER_LICENCE = re.compile(r"\S+ \(licence \S+\)")  # FPV-A/P002 (licence L-2)
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                     r"(?:Z|[+-]\d{2}:\d{2})?")


def _regex(shape: str) -> re.Pattern[str]:
    parts = _PLACE.split(shape)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                    for i, p in enumerate(parts))
    return re.compile(regex.replace("%%", "%"), re.S)


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(_regex(shape), shape) for shape in SHAPES]


@functools.cache
def _codes_by_words() -> dict[str, str]:
    return {words: code for code, words in LABELS.items()}


def _local(value: str) -> str:
    """A value of an English sentence written for the language of the moment: figures,
    shares, dates and the labels of codes; ids and names as they are."""
    v = value.strip()
    if _NUMBER.fullmatch(v):
        decimals = len(v.split(".")[1]) if "." in v else 0
        return i18n.number(float(v.replace(",", "")), decimals)
    if v.endswith("%") and _NUMBER.fullmatch(v[:-1]):
        decimals = len(v[:-1].split(".")[1]) if "." in v else 0
        return i18n.number(float(v[:-1].replace(",", "")), decimals) + "%"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return i18n.day(dt.date.fromisoformat(v))
    if _DAY_EN.fullmatch(v.replace("\u00a0", " ")):
        try:
            return i18n.day(dt.datetime.strptime(v.replace("\u00a0", " "), "%d %b %Y").date())
        except ValueError:
            return value
    if v[:1] == "+" and _NUMBER.fullmatch(v[1:]):  # a gain: +1,234
        return "+" + _local(v[1:])
    short = _SHORT_MONEY.fullmatch(v)
    if short:  # an amount of a plan's sentence: 1.2M, 350.0k
        amount = i18n.number(float(short.group(1).replace(",", "")), 1)
        return (gettext("%(amount)s million", amount=amount) if short.group(2) == "M"
                else gettext("%(amount)s thousand", amount=amount))
    if _MOMENT.fullmatch(v):  # a moment of a log (2026-12-05T23:30:00+00:00)
        try:
            moment = dt.datetime.fromisoformat(v)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
        return f"{i18n.day(moment.date())}, {moment:%H:%M} UTC"
    if v in _codes_by_words():
        return say(_codes_by_words()[v])
    if v in LABELS and "_" in v:  # a code as it is stored (one_way_drone)
        return say(v)
    if v == "(no producer)":
        return gettext("(no producer)")
    if " " not in v:  # an id or a name of one word: as it is
        return value
    parts = value.split(", ")
    if all(_OFFER_LICENCE.fullmatch(p) for p in parts):  # offers and their licences
        return ", ".join(say_sentence(p) for p in parts)
    said = say_sentence(value)  # a sentence quoted in a sentence (a refusal's reason)
    if said == value and "; " in value:  # sentences joined (the limits a plan breaks)
        return "; ".join(say_sentence(part) for part in value.split("; "))
    return said


def say_sentence(text: str) -> str:
    """``text``, a sentence a service kept in English, in the language of the moment."""
    if i18n.current() == i18n.DEFAULT or not text:
        return text
    for regex, shape in _patterns():
        m = regex.fullmatch(text)
        if m:
            values = {k: _local(v) for k, v in m.groupdict().items()}
            return i18n.raw_gettext(shape) % values
    return text


def say_chain_reason(reason: str | None, table: str | None = None,
                     key: str | None = None) -> str:
    """Why an audit chain does not hold (``ChainCheck.reason``) in the language of the
    moment; a deep check's reason names the table (and key) first: ``uses P1/L-7: its
    content does not match its hash (edited outside Kuznia)``.

    >>> from kuznia.i18n import language
    >>> with language("uk"):
    ...     say_chain_reason("row_updates event 12: changes are recorded under an event "
    ...                      "that wrote none (inserted outside Kuznia)", "row_updates",
    ...                      "event 12")[:40]
    'історія оновлених рядків, подія 12: змін'
    """
    if not reason:
        return ""
    if i18n.current() == i18n.DEFAULT or table is None:
        return say_sentence(reason)
    head = f"{table} {key}: " if key else f"{table}: "
    if not reason.startswith(head):
        return say_sentence(reason)
    why = say_sentence(reason[len(head):])
    if not key:
        return gettext("%(table)s: %(reason)s", table=say(table), reason=why)
    event = re.fullmatch(r"event (\d+)", key)
    return gettext("%(table)s, %(key)s: %(reason)s", table=say(table),
                   key=gettext("event %(event)s", event=event.group(1)) if event else key,
                   reason=why)


@functools.cache
def _value_patterns() -> dict[str, tuple[re.Pattern[str], str]]:
    return {message: (_regex(shape), shape) for message, shape in VALUES.items()}


_CUT = re.compile(r"(.*)… \(([\d,]+) characters\)", re.S)


def say_value(value: str | None, message: str) -> str | None:
    """The value an import's problem shows, in the language of the moment where a rule
    wrote it in words (``VALUES``); any other value (a cell) as it is.

    >>> from kuznia.i18n import language
    >>> with language("uk"):
    ...     say_value("L-7 (line 3)", "is already the lot of an earlier delivery in this file")
    'L-7 (рядок 3)'
    >>> with language("uk"):
    ...     say_value("L-7 (line 3)", "is required")
    'L-7 (line 3)'
    >>> with language("uk"):
    ...     say_value("xxxxx… (12,000 characters)", "is longer than 200 characters")
    'xxxxx… (символів: 12\xa0000)'
    """
    if value is None or i18n.current() == i18n.DEFAULT:
        return value
    cut = _CUT.fullmatch(value)
    if cut:  # a long cell echoed in part (errors.shown_value): its length in words
        return gettext("%(start)s… (characters: %(length)s)", start=cut.group(1),
                       length=_local(cut.group(2)))
    if message not in VALUES:
        return value
    regex, shape = _value_patterns()[message]
    m = regex.fullmatch(value)
    if not m:
        return value
    return i18n.raw_gettext(shape) % {k: (v if k != "line" else _local(v))
                                      for k, v in m.groupdict().items()}

