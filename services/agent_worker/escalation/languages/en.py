"""English: how customers ask for a person, report a break-in, dispute a charge, lose patience."""

from __future__ import annotations

from services.agent_worker.escalation.lexicon import Lexicon

LEXICON = Lexicon(
    language="en",
    words={
        "det": "a|an|the|your|some|any|one of your|another",
        "adj": "real|actual|live|proper|human|flesh and blood|living",
        "noun": "humans?|human beings?|person|people|agents?|representatives?|reps?|operators?"
        "|managers?|supervisors?|advisors?|advisers?|customer (service|support|care)( team"
        "| agent| rep)?|staff( member)?|members? of (staff|your team|the team)|team members?"
        "|colleagues?|employees?|someone(?! else)|somebody(?! else)|anyone|one of you",
        "person": "({det} )?({adj} )?{noun}",
        "task": "(?! to (?!{talk}|help|call|message|contact|discuss|sort|deal|look|handle"
        "|review|assist))",
        "strong": "humans?|human beings?|(real|actual|live) (person|people|agent|human)s?"
        "|agents?|representatives?|operators?|customer (service|support|care)"
        "|support (team|staff)|staff|(someone|somebody|anybody|anyone) real",
        "cue": "want|wanna|need|like|prefer|rather|can i|could i|may i|let me|please|pls|plz"
        "|connect|transfer|put me|get me|speak|talk|chat|help me|assist me|help with",
        "talk": "talk|speak|chat|talking|speaking|chatting",
        "bot": "bots?|robots?|machines?|computers?|ai|chatbots?|automated (system|assistant"
        "|service)",
        "intruder": "someone|somebody|a stranger|strangers|a hacker|hackers|scammers?"
        "|fraudsters?|another person|some(one|body) else|they",
        "credential": "account|e-?mail( address)?|password|login|pin|card( details)?"
        "|phone number|details|address|profile|identity|username",
        "denial": "i (never|did{nt}|have{nt}) (do|did|done|change|changed|update|updated|make"
        "|made|place|placed|order|ordered|request|requested|authori[sz]e|authori[sz]ed|agree"
        "|agreed)|(was{nt}|was not|not) me|without my (permission|consent|knowledge"
        "|authori[sz]ation)|i (do{nt}|did{nt}) (know|recogni[sz]e)|(i've|i have) never been"
        "|i('m| am) (in|at)|i live in",
        "charge": "charges?|payments?|transactions?|debits?|bills?|invoices?|fees?|amounts?",
        "charged": "charged|billed|debited|taken|took|deducted|withdrawn|charging|billing",
        "nt": "n't|nt| not",
    },
    negators=r"not|no|never|without|nor|neither|hardly|nothing|nobody|none|cannot|\w+n't"
    r"|dont|didnt|doesnt|isnt|wasnt|cant|wont",
    past=r"was|were|had been|used to be",
    others=r"(my|his|her|our|their) (cat|dog|son|daughter|husband|wife|partner|kids?|children"
    r"|child|mum|mom|dad|mother|father|boss|friend|neighbou?r|sister|brother|baby)",
    fillers=(
        "really very so too at all that even ever a an the be been being am is are was were "
        "feeling getting i i'm im it it's this to just actually any more me you"
    ),
    asked_for_human={
        "talk to a person": "{talk} (to|with) {person}",
        "talk to one of them": ("{noun}", "{talk} (to|with) (one|them)"),
        "transfer me": "(transfer|transferred|connect|connected|put|pass|passed|hand|handed"
        "|send|escalate|escalated)( me)?( through| over| on)? (to|with) {person}"
        "|(transfer|connect) me|put me (through|over)|put {person} on",
        "get me a person": "(get|give|find|bring) (me )?{person}{task}",
        "want a person": "(want|need|would like|'d like|prefer|'d prefer|rather have|request"
        "|requesting|asking for|looking for) (to (have|get) )?{person}{task}",
        "may I have a person": "(can|could|may) (i|we) (please )?(get|have) {person}{task}"
        "|(can|could|may) (i|we) (please )?(be )?(put|passed|transferred|connected) (through )?"
        "(to|with) {person}",
        "a person, please": "^(please )?{person}( please| pls| now| asap)*(,|$)",
        "not a bot": "(don't|do not|dont) want (to {talk} (to|with) )?({det} )?{bot}"
        "|(rather|prefer) not (to )?{talk} (to|with) ({det} )?{bot}",
        "a person to talk to": "{noun} (i|we) (can|could) {talk}",
        "asks for a person": "{cue} … {strong}{task}|{strong} … {cue}",
        "is anyone real there": "(is|are) (there )?(anybody|anyone|somebody|someone) (real|human)",
        "call me back": "{person} … (call|ring|phone|message|text|e-?mail|contact) me"
        "|(call|ring|phone) me back",
        "a member of staff can do it": "(can|could|would) ({det} )?(agent|representative|rep"
        "|member of (staff|your team)|staff member|staff|colleague|team member|manager"
        "|supervisor|advisor) … (do|handle|help|sort|look|deal|check|take care)",
        "escalate": "escalate (this|it|my)",
    },
    account_security={
        "hacked": "hacked|compromised|breached|hijacked|(been|was|got|get) taken over|hackers?",
        "someone is in my account": "{intruder}('s| has| have| had| is| was)? (been )?(changed"
        "|changing|using|used|has|knows|got into|gotten into|accessed|accessing|logged into"
        "|signed into|broke into|stole|took over|reset|ordering|buying|spending|shopping) …"
        " my {credential}",
        "someone changed it": "{intruder} (has |had )?(changed|reset) (it|them|that)",
        "someone is signing in": "{intruder}('s| is| are| keeps| kept)? (logging|signing|log"
        "|sign) (in|into|on)",
        "someone signed in": "{intruder} (has |had )?(logged|signed|got|gotten|broke) in",
        "changed, and not by me": (
            "{credential}( \\w+){0,2} (was|were|has been|have been"
            "|got|had been) (changed|updated|reset|modified|accessed"
            "|used|deleted|swapped|switched|altered)|(orders?|purchases?"
            "|stuff|things|items) … (on"
            "|from|in|with|to) my account|my account … (orders?"
            "|purchases?)|(sign|log)(ged)?[ -]?ins? … (from|on)",
            "{denial}",
        ),
        "codes I did not request": "(codes?|pins?|otps?|login alerts?|reset e-?mails?) … i"
        " (never|did{nt}|have{nt}) (ask|asked|request|requested)",
        "stolen": "(card|card details|details|identity|account|password|credentials|login)"
        " (was |were |got |has been |have been |had been )?stolen|stole my|identity theft",
        "phished": (
            "fake|phishing|scam|spoofed|looked like (yours|you|it was from you)",
            "(typed|entered|gave|put|shared|sent) (in )?my (password|pin|card|details|login|code)",
        ),
        "lock my account": "(lock|freeze|block|suspend|disable) my account",
        "fraud on my account": "fraud(ulent)? (on|activity|orders?|transactions?|logins?"
        "|purchases?)|victim of fraud|(report|reporting) (a )?fraud",
        "unauthorised access": "unauthori[sz]ed (access|log-?ins?|sign-?ins?|use|activity|user"
        "|purchases?|orders?|changes?)",
        "suspicious activity": "suspicious (activity|log-?ins?|sign-?ins?)",
    },
    billing_dispute={
        "charged twice": "{charged} (me )?… (twice|two times|double|again|2x)"
        "|(second|duplicate|double) {charge}|only (ordered|paid|bought) (it )?once"
        "|double[- ]?(charged|billed|charge|charging|billing)"
        "|duplicate (charge|payment|transaction)",
        "a charge I do not recognise": "{charge} … (do{nt}|did{nt}|can't|cannot) recogni[sz]e"
        "|(do{nt}|did{nt}) recogni[sz]e (this|that|the|a|these|those) {charge}"
        "|unrecogni[sz]ed {charge}",
        "a payment I never agreed to": "(never|did{nt}) (authori[sz]e|authori[sz]ed|approve"
        "|approved|agree to|agreed to) (this|that|the|these|those|any|a) (payment|charge"
        "|transaction|debit|fee|renewal)|{charge} … (never|did{nt}) (agree|agreed|authori[sz]e"
        "|authori[sz]ed|approve|approved|sign up|signed up)|unauthori[sz]ed (charges?"
        "|payments?|transactions?|debits?)",
        "dispute a charge": "(want|need|would like|'d like|going|have|wish) to (dispute|contest"
        "|challenge|query) (a |an |the |this |that |my |last )?({charge}|this|that|it)"
        "|(i'm|i am|i'll be|we are) (disputing|contesting|challenging)"
        "|(dispute|contest|challenge) (this|that|the|these|those|my|your|last) {charge}",
        "billed after cancelling": "{charged} (me )?… (after|even though|although|though"
        "|despite) … cancel+(ed|ing|led)?|still (being )?(charged|billed|charging|billing"
        "|taking|debiting)",
        "overcharged": "over-?(charged|billed|charging|billing)|{charged} (me )?… (too much"
        "|extra|more than|instead of)|(quoted|told|promised|supposed to be|should have been"
        "|meant to be) …"
        " (but|and) (you )?(took|charged|billed|debited|have taken)",
        "bill is wrong": "{charge} (is|was|looks|are|were|seems) (wrong|incorrect|not right)"
        "|(wrong|incorrect) (charges?|amounts?|bills?|invoices?|fees?)"
        "|(billed|charged) (is|are|was|were) wrong|(charged|billed|{charge}) … (does{nt}"
        "|do{nt}|did{nt}) (match|add up)",
        "charged for what I did not get": "(charged|billed) (me )?for … i (never|did{nt}"
        "|have{nt}) (get|got|receive|received|order|ordered|ask|asked|use|used)",
        "fee back": "(want|need|get) (that|the|this|my) (late |shipping |delivery )?(fee|charge"
        "|payment) (back|refunded|reversed|removed|waived)",
        "reverse the charge": (
            "charged|billed|\\w*fee|charge",
            "(want|need) (it|that|this|them) (reversed|refunded|removed|taken off|waived)",
        ),
        "chargeback": "(file|filing|open|opening|request|do|raise|start) (a )?charge-?back",
        "purchases on my card I did not make": "(purchases?|payments?|charges?|transactions?"
        "|orders?) … (on|from|to) my (card|bank|statement|credit card) … i (never|did{nt})"
        " (make|made|authori[sz]e|authori[sz]ed|buy|bought)",
        "billed for more than I signed up for": "{charged} (me )?… (when|but|though|although"
        "|even though) i only",
    },
    frustration={
        "ridiculous": "ridiculous|absurd|unacceptable|outrageous|disgrace(ful)?|pathetic"
        "|appalling|useless|hopeless|incompetent|nightmare|shambles|a scam"
        "|(a|an) (complete |total |absolute |utter |bloody )?(joke|farce)",
        "fed up": "fed up|(i've|i have) had it (with|up to)|sick (and tired )?of|had enough"
        "|(losing|lost|run out of) (my )?patience"
        "|at the end of my tether",
        "angry": "furious|livid|fuming|seething|raging|angry|mad at|pissed|so annoyed"
        "|really annoyed|very annoyed",
        "frustrated": "frustrat\\w*(?!\\W*free)",
        "disappointed": "disappoint\\w*|dissatisf\\w*|unhappy|not (happy|satisfied|impressed)",
        "worst": "worst(?! case)|(terrible|horrible|awful|dreadful|rubbish|lousy) (service"
        "|support|experience|company|help)",
        "waste of time": "waste of (my )?time|wasting my time|how hard (can|is) it",
        "hate": "i hate (this|you|your|dealing)",
        "complaint": "(make|file|raise|lodge) a complaint|i('m| am) complaining",
    },
    impatience={
        "ugh": "ugh+|argh+|come on|seriously|oh my god|omg",
        "not what I asked": "not (really |quite |exactly )?what i (asked|said|meant|need"
        "|wanted)|(you're|you are) not listening|that's not my question",
        "annoying": "annoying|annoyed|irritating|getting (old|tiresome)",
        "again and again": "(third|fourth|fifth|3rd|4th|5th|several|multiple|many) times?"
        "|how many times|already (told|said|asked|explained)|i (just|already) (told|said)",
        "unbelievable": "unbelievable|(can't|cannot) believe",
        "did not help": "(did{nt}|does{nt}|is{nt}|was{nt}) (help|helping|helpful)|no help"
        "|nothing (ever )?works",
    },
    not_a_request=(
        "^(do|does|will|would|must|should) (i|we|you|one|someone|somebody|a person|anyone)"
        " (need|have|has) to|^(is|are) (it|a person|someone|somebody|one|anyone) (needed"
        "|required|necessary)|^does (someone|somebody|a person|anyone) (need|have) to",
        "(my|his|her|our|their) (\\w+ )?(agent|representative|rep|manager|advisor)"
        "|(i'm|i am|i work as|as) (a|an) (\\w+ )?(agent|representative|rep|operator|advisor)",
        "(are|r) (you|u) ({det} )?(real|human|person|bot|robot|ai)",
    ),
    hypothetical=(
        "^(how|what|when|where|which|do you|does your|is it|are there|should i|tell me about)",
        "(if|in case|whether) (i|my|someone|somebody|an account|your)",
    ),
    still_unresolved={
        "still": "still|same (thing|problem|issue|error|result|message)|either",
        "did not work": "(did{nt}|does{nt}|wo{nt}|is{nt}|not) (work|working|help|fix|change)",
        "nothing": "nothing (came|arrived|happened|changed|works|showed up|yet)|no (luck|change"
        "|difference|joy)",
        "already tried": "(did|tried|done) (that|this|it) (already|too|twice)|already (did|tried"
        "|done|checked|confirmed)|not in (spam|junk)",
    },
    non_answer=(
        "not sure i understood|(do{nt}|did{nt}) (have|find) (an|any) (answer|information)"
        "|(can't|cannot|couldn't) (help with|answer|find)|having trouble answering",
    ),
    greeting=(
        "^(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|yo)( there| team| all)?$",
    ),
    closing=(
        "thanks|thank you|thx|cheers|that's all|that is all|never ?mind|bye|goodbye|all good"
        "|sorted|that worked|it worked|perfect|got it|no worries|found it",
    ),
)
