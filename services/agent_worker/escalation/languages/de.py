"""German: einen Menschen verlangen, einen Zugriff melden, eine Abbuchung reklamieren, Ärger."""

from __future__ import annotations

from services.agent_worker.escalation.lexicon import Lexicon

LEXICON = Lexicon(
    language="de",
    words={
        "det": "einen|einem|einer|eine|ein|den|dem|der|die|das|ihrem|ihren|ihre|ihrer"
        "|einem ihrer|einen ihrer",
        "noun": "mensch(en)?|person(en)?|mitarbeiter(in|innen)?|ansprechpartner(in)?"
        "|berater(in)?|kundenservice|kundendienst|kundenbetreuung|vorgesetzte[nr]?|chef(in)?"
        "|kolleg(e|en|in)|jemand(en|em)?|support|agent(en)?|sachbearbeiter(in)?|betreuer(in)?"
        "|service-?mitarbeiter(in)?",
        "adj": "echte[nmrs]?|richtige[nmrs]?|menschliche[nmrs]?|reale[nmrs]?",
        "human": "({det} )?({adj} )?{noun}",
        "denial": "ohne mein(e)? (wissen|erlaubnis|zustimmung|einverständnis)|das war (nicht ich"
        "|ich nicht)|war ich nicht|(die|das|den) ich (nicht|nie)|ich (habe|hab) (das )?(nicht"
        "|nie)|(bin|ich bin) (aber |doch )?in|war (noch )?nie in",
        "strong": "mensch(en)?|echte[nr]? (mensch(en)?|person)|mitarbeiter(in)?|berater(in)?"
        "|kundenservice|kundendienst|ansprechpartner(in)?|menschliche[nr]? mitarbeiter(in)?"
        "|support",
        "cue": "möchte|will|brauche|hätte gern|bitte|kann ich|könnte ich|darf ich|verbinden"
        "|weiterleiten|durchstellen|sprechen|reden|chatten",
        "talk": "sprechen|reden|chatten|telefonieren|schreiben|unterhalten|klären|besprechen",
        "bot": "bot|roboter|chatbot|maschine|ki|computer|automat(en)?",
        "intruder": "jemand( anderes| fremdes)?|ein fremder|fremde|hacker|betrüger"
        "|eine andere person|unbekannte",
        "credential": "konto|kundenkonto|account|e-?mail(-adresse)?|passwort|kennwort|pin"
        "|karte|kreditkarte|zugangsdaten|daten|adresse|profil|telefonnummer",
        "charge": "abbuchung(en)?|belastung(en)?|zahlung(en)?|rechnung(en)?|betrag|beträge"
        "|gebühr(en)?|lastschrift(en)?|posten|buchung(en)?|kosten|abo(nnement)?",
    },
    negators=r"nicht|nie|niemals|kein|keine|keinen|keinem|keiner|keines|nichts|niemand|ohne"
    r"|weder",
    past=r"war|waren|wurde",
    others=r"(mein|meine|sein|seine|ihr|ihre) (katze|hund|sohn|tochter|mann|frau|partner|kinder?"
    r"|mutter|vater|chef|freund|freundin|nachbar|bruder|schwester)",
    fillers=(
        "ich bin ist war wurde habe hab sehr so wirklich total echt gar überhaupt mich mir "
        "das es der die den dem ein eine einen einem auch ja doch schon bitte sie du"
    ),
    asked_for_human={
        "talk to a person": "mit ({det} )?{human} … {talk}|{talk} (mit|zu) ({det} )?{human}",
        "prefer a person": "lieber (mit )?({det} )?{human}",
        "asks for a person": "{cue} … {strong}|{strong} … {cue}",
        "is anyone real there": "(ist|gibt es) (da|hier) (ein|einen) (echter|echten) (mensch"
        "|mitarbeiter)",
        "transfer me": "verbinden sie mich|verbinde mich|stellen sie mich … durch"
        "|stell mich … durch|leiten sie mich … weiter|(geben|gib) (sie )?mir ({det} )?{human}",
        "want a person": "(möchte|will|hätte gern(e)?|hätte lieber|brauche|wünsche|bitte)"
        " {human}|(kann|könnte|darf) ich (bitte )?{human} (haben|bekommen|sprechen)",
        "a person, please": "^(bitte )?{human}( bitte| jetzt| sofort)*(,|$)",
        "not a bot": "(will|möchte|mag) nicht (mit ({det} )?{bot} )?(reden|sprechen|chatten"
        "|schreiben)|nicht mit ({det} )?{bot} (reden|sprechen|chatten)",
        "is there a person": "gibt es … {human}(,)? (mit dem|mit der|den|die) (ich|man)",
        "call me": "(kann|könnte|soll|würde) (mich )?({det} )?{human} … (zurückrufen|anrufen)"
        "|(rufen sie mich|ruf mich) … (an|zurück)",
        "a colleague can do it": "(kann|könnte) (das )?({det} )?(kollege|kollegin|mitarbeiter(in)?"
        "|berater(in)?) … (machen|erledigen|übernehmen|helfen)",
    },
    account_security={
        "hacked": "gehackt|gekapert|kompromittiert|geknackt|hacker|(konto|account) … übernommen",
        "someone is in my account": "{intruder} (hat|nutzt|benutzt|verwendet|kennt|hatte|ist)"
        " … (mein|meine|meinen|meinem|meiner) {credential}",
        "someone changed it": "{intruder} hat (sie|es|ihn|das|die|alles) (geändert|umgestellt"
        "|zurückgesetzt)",
        "someone signed in": "{intruder} hat sich (in|bei) … (eingeloggt|angemeldet)"
        "|{intruder} (meldet|loggt) sich … (an|ein)",
        "reset, and not by me": (
            "(passwort|kennwort) … (zurückgesetzt|geändert) (wurde"
            "|worden)|passwort-?(reset|zurücksetzung)",
            "{denial}",
        ),
        "changed, and not by me": (
            "(passwort|kennwort|e-?mail(-adresse)?|adresse|konto"
            "|telefonnummer|zugangsdaten) (wurde|wurden|ist) … (geändert"
            "|verändert|zurückgesetzt)|(mit|in|über|von) meinem konto …"
            " (bestellt|gekauft|bestellungen|eingekauft)|(anmeldung"
            "|login|zugriff) (aus|in|von)",
            "{denial}",
        ),
        "activity I did not do": "konto … (bestellungen|bestellung|käufe|einkäufe|anmeldungen"
        "|logins|änderungen) … ich (nicht|nie) (aufgegeben|getätigt|gemacht|bestellt"
        "|vorgenommen|autorisiert)",
        "codes I did not request": "\\w*codes? … (nicht|nie) (angefordert|beantragt|verlangt)",
        "that was not me": (
            "das war (nicht ich|ich nicht)|war ich nicht",
            "anmeld|login|einlogg|bestell|warnung|zugriff",
        ),
        "stolen": "(meine|mein|meinen) (identität|karte|kreditkarte|passwort|daten"
        "|zugangsdaten|konto) … (gestohlen|geklaut)|(karte|kreditkarte|konto|passwort"
        "|zugangsdaten|identität|daten) (wurde|wurden"
        "|ist|sind) (mir )?(gestohlen|geklaut)|identitätsdiebstahl",
        "phished": (
            "gefälscht\\w*|phishing|betrug\\w*|fake|aussah wie",
            "(mein|meine) (passwort|pin|kartendaten|zugangsdaten|daten) …"
            " (eingegeben|angegeben|eingetippt|preisgegeben)",
        ),
        "lock my account": "(sperren|sperrt|deaktivieren|blockieren) sie … (mein|das) konto"
        "|(mein|das) konto (sperren|deaktivieren|blockieren)",
        "fraud on my account": "betrug (auf|in|mit) meinem (konto|karte)|opfer (eines|von)"
        " betrug|betrug melden|verdächtige (aktivität|anmeldung(en)?|zugriffe)"
        "|unbefugte[rn]? (zugriffe?|nutzung|anmeldung)",
    },
    billing_dispute={
        "charged twice": "(zweimal|doppelt|2x|erneut|nochmal|noch einmal) (abgebucht|belastet"
        "|berechnet|eingezogen)|doppelte (abbuchung|belastung|zahlung|rechnung)",
        "a charge I do not recognise": "{charge} … (nicht kenne|nicht zuordnen|nicht erklären"
        "|nicht nachvollziehen|nicht erkenne|nie autorisiert|nicht autorisiert|nie bestellt"
        "|nicht bestellt"
        "|nie genehmigt)",
        "dispute a charge": "(möchte|will|werde) … (reklamieren|anfechten|widersprechen"
        "|beanstanden|zurückbuchen)|(lasse|lass) die (lastschrift|abbuchung|zahlung)"
        " (zurückgehen|zurückbuchen)",
        "billed after cancelling": "(buchen|berechnen|ziehen) (sie )?(immer noch|weiterhin"
        "|trotzdem) (ab|ein)|(immer noch|weiterhin|trotzdem) (abgebucht|berechnet|belastet)"
        "|(abgebucht|berechnet|buchen) … obwohl … gekündigt|(nach|trotz) (meiner )?kündigung …"
        " (abgerechnet|abgebucht|berechnet)",
        "overcharged": "zu viel (abgebucht|berechnet|belastet)|(sollte|sollten|waren|war) …"
        " (kosten|betragen) … (abgebucht|berechnet|belastet) (wurden|wurde)",
        "bill is wrong": "(rechnung|betrag|abbuchung|summe) (ist|war) (falsch|fehlerhaft)"
        "|betrag stimmt nicht|(falsche|fehlerhafte) (rechnung|abbuchung)|{charge} … stimmt nicht"
        " … überein",
        "charged for what I did not get": "(berechnet|abgebucht) … (aber|jedoch) nur"
        "|(geliefert|bekommen|erhalten) (wurden|wurde|habe ich) (aber )?nur",
        "reverse the charge": (
            "\\w*gebühr|abgebucht|berechnet|rechnung|belastet",
            "bitte (stornieren|erstatten|zurückerstatten|zurückbuchen"
            "|gutschreiben)|(will|möchte) (mein|das) geld zurück",
        ),
        "purchases on my card I did not make": "(auf|von) meiner (karte|kreditkarte"
        "|kontoauszug) … (käufe|zahlungen|abbuchungen|buchungen) … (die|den) ich (nicht|nie)"
        " (gemacht|getätigt|autorisiert)",
        "billed for more than I signed up for": "(berechnet|abgebucht) … obwohl ich nur",
        "chargeback": "rückbuchung (veranlassen|beantragen)|chargeback (beantragen|einleiten)",
    },
    frustration={
        "ridiculous": "lächerlich|das letzte|unverschämt|saftladen|sauladen|drecksladen"
        "|verarsch\\w*|frechheit|zumutung|inakzeptabel|skandal(ös)?"
        "|armselig|nutzlos|sinnlos|eine katastrophe|katastrophal|ein witz",
        "fed up": "(nase|schnauze) voll|(echt |total |völlig )?bedient|(reicht|langt) (mir"
        "|jetzt)|geduldsfaden|(verliere|verlier)"
        " (langsam )?(die|meine) geduld|geduld ist (am ende|zu ende)|(habe|hab) genug",
        "angry": "(bin|ist) (echt |total |so )?geladen|wütend|stinksauer|stocksauer|sauer"
        "|verärgert|zornig|genervt",
        "disappointed": "enttäuscht|enttäuschend|unzufrieden|nicht zufrieden",
        "worst": "schlechteste[nrs]? (service|kundenservice|kundendienst|firma|erfahrung|support)"
        "|(miserabler|mieser|furchtbarer|katastrophaler) (service|kundenservice|kundendienst"
        "|support|laden)",
        "complaint": "beschwerde (einreichen|einlegen|machen)|(will|möchte) mich beschweren"
        "|ich beschwere mich",
        "waste of time": "zeitverschwendung|verschwende meine zeit|verschwendet meine zeit",
    },
    impatience={
        "ugh": "im ernst|ernsthaft|echt jetzt|ach komm|oh mann|boah",
        "not what I asked": "(war|ist) nicht (ganz )?meine frage|nicht das,? was ich (gefragt"
        "|gemeint|wollte)|sie hören mir nicht zu",
        "annoying": "nervt|nervig|ärgerlich|lästig|anstrengend",
        "again and again": "(zum )?(dritten|vierten|fünften|x-ten) mal|(drei|vier|mehrere"
        "|\\d+) mal|mehrmals|wie oft|schon (gesagt|erklärt|geschrieben)",
        "unbelievable": "unglaublich|nicht zu fassen|das gibt's doch nicht",
        "did not help": "(hat|hilft) (mir )?nicht (geholfen|weiter)|bringt nichts"
        "|nichts funktioniert",
    },
    not_a_request=(
        "(mein|meine|ihr|sein) (\\w+)?(vertreter|berater|makler|agent)",
        "^(muss|müssen|brauche ich|braucht man|ist es (nötig|notwendig|erforderlich)|sollte ich)",
        "(bist du|sind sie|seid ihr|ist das) (ein |eine )?(mensch|bot|roboter|person"
        "|echter mensch|ki|maschine)",
    ),
    hypothetical=(
        "^(wie|was (passiert|mache ich|soll ich|tun)|wann|wo|welche|bieten sie|haben sie"
        "|ist es sicher|gibt es)",
        "(wenn|falls|ob) (jemand|mein|meine|ich)",
    ),
    still_unresolved={
        "still": "immer noch|noch immer|weiterhin|nach wie vor|auch kein\\w*"
        "|(das )?gleiche(s)? (problem"
        "|fehler|ergebnis)|dasselbe|auch nicht|genauso",
        "did not work": "(funktioniert|klappt|geht) (immer noch |weiterhin )?(nicht|nichts)",
        "nothing": "es kommt nichts|kam nichts|nichts angekommen",
        "already tried": "(hab|habe) ich (schon|bereits)|schon (gemacht|probiert|versucht"
        "|bestätigt)|auch gemacht|nicht im spam|im spam ist nichts",
    },
    non_answer=(
        "nicht sicher,? ob ich (das |sie |dich )?(richtig )?verstanden|keine antwort (darauf"
        "|dazu)|(habe|hab) ich (darauf |dazu )?(noch )?keine antwort|noch keine antwort"
        "|kann ich (ihnen )?(leider )?nicht (helfen|beantworten)",
    ),
    greeting=("^(hallo|hi|hey|guten (tag|morgen|abend)|servus|moin|grüß gott)( zusammen)?$",),
    closing=(
        "danke|vielen dank|dankeschön|das war's|das wars|tschüss|auf wiedersehen|egal"
        "|hat (sich )?(geklappt|erledigt)|passt|erledigt|gefunden",
    ),
)
