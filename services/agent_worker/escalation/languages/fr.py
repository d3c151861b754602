"""French : demander un humain, signaler un piratage, contester un prélèvement, l'exaspération."""

from __future__ import annotations

from services.agent_worker.escalation.lexicon import Lexicon

LEXICON = Lexicon(
    language="fr",
    words={
        "det": "un|une|le|la|l'|les|des|du|au|votre|vos|un de vos|une de vos|l'un de vos",
        "noun": "humains?|etre humain|personnes?|conseill(er|ere)s?|agents?|responsables?"
        "|operat(eur|rice)s?|quelqu'un|interlocut(eur|rice)|collegues?|service client(ele)?"
        "|superviseur|manager|employes?|technicien|vendeu(r|se)",
        "pre": "vrai|vraie|veritable|reel|reelle",
        "post": "humain|humaine|en chair et en os|reel|reelle|physique|de chez vous|competent",
        "human": "({det} )?({pre} )?{noun}( {post})?",
        "denial": "ce n'(est|etait) pas moi|c'(est|etait) pas moi|sans mon (accord|autorisation"
        "|consentement)|a mon insu|je n'ai (pas|jamais) (fait|passe|demande|autorise|modifie"
        "|change)|(alors que|mais) je (suis|vis|reside)|je n'y suis jamais alle",
        "strong": "humains?|vraie? personne|une personne|conseill(er|ere)s?|agents?"
        "|operat(eur|rice)s?|service client(ele)?|quelqu'un de (reel|vrai)|responsable"
        "|interlocut(eur|rice)",
        "cue": "veux|voudrais|souhaite|souhaiterais|prefere|aimerais|puis-je|pourrais|peux|svp"
        "|s'il vous plait|passez|transferez|transferer|mettez|parler|discuter|joindre",
        "talk": "parler|discuter|echanger|m'entretenir|voir (ca|cela)|regler (ca|cela)",
        "bot": "robot|bot|machine|ia|intelligence artificielle|assistant virtuel|repondeur",
        "intruder": "quelqu'un( d'autre)?|une personne|un inconnu|des pirates|un pirate|un tiers"
        "|des escrocs|un escroc|un hacker|des hackers",
        "credential": "compte|adresse( mail| e-mail)?|mail|e-mail|mot de passe|carte( bancaire)?"
        "|identifiants?|numero|profil|code",
        "charge": "prelevements?|debits?|paiements?|factures?|frais|montants?|achats?"
        "|transactions?|facturations?|sommes?",
    },
    negators=r"ne|n'\w*|pas|jamais|aucun\w*|sans|ni|personne|rien",
    past=r"etais|etait|avais|avait|etions",
    others=r"(mon|ma|son|sa) (chat|chien|fils|fille|mari|femme|conjoint|enfants?|mere|pere"
    r"|patron|ami|amie|voisin|frere|soeur)",
    fillers=(
        "je j' j'ai suis est c'est tres vraiment si trop un une le la les de du des me m' moi "
        "vous tu te a ai ete etre plus encore deja bien tout"
    ),
    asked_for_human={
        "talk to a person": "{talk} (a|au|aux|avec) ({det} )?{human}",
        "asks for a person": "{cue} … {strong}|{strong} … {cue}",
        "is anyone real there": "(il y a|y a t il) (quelqu'un|une personne|un humain) (de )?"
        "(reel|vrai)",
        "transfer me": "(passez|passe|passer|transferez|redirigez|orientez|connectez|mettez|mets)"
        " moi (a |avec |vers )?{human}|me (transferer|passer|mettre en relation|rediriger)"
        "|(etre|suis) mis en relation|(mettez|mettre|mets) moi en (relation|contact)",
        "want a person": "(veux|voudrais|souhaite|souhaiterais|prefere|prefererais|aimerais"
        "|exige|demande) (avoir |parler a |voir )?{human}|(pourrais|puis|peux)(-je| je)? avoir"
        " {human}|besoin (d'un|d'une|de) {human}",
        "on the line": "{human} (au telephone|au bout du fil|en ligne)",
        "a person, please": "^(un |une )?{human}( svp| s'il vous plait| s'il te plait| stp"
        "| maintenant)*$",
        "not a bot": "ne veux pas (parler|discuter) (a|avec) ({det} )?{bot}",
        "is there a person": "(y a t il|il y a|est-ce qu'il y a) (une vraie personne|quelqu'un"
        "|un humain|un conseiller)( de reel)? (avec qui|a qui|pour)",
        "call me": "{human} … (peut|pourrait|peuvent|pourraient) me (rappeler|appeler|contacter)"
        "|(rappelez|appelez|contactez) moi|me faire rappeler",
        "a colleague can do it": "(un de vos|une de vos|vos|votre|un|une) (collegues?|conseill"
        "(er|ere)s?|agents?) … (peut|peuvent|pourrait|pourraient) (s'en charger|le faire"
        "|m'aider|regler|traiter)",
    },
    account_security={
        "hacked": "pirat(e|ee|es|ees|age)|hacke(e)?s?|usurp\\w+|pris le controle",
        "someone is in my account": "{intruder} (a |l'a )?(change|changee|modifie|utilise"
        "|connait|pirate|vole|pris|accede|s'est connecte) … (mon|ma|mes) {credential}"
        "|{intruder} a (mon|ma|mes) {credential}",
        "someone changed it": "{intruder} (l'a|les a) (change|changee|modifie|modifiee)",
        "reset, and not by me": (
            "reinitialis\\w* … mot de passe|mot de passe … (reinitialis|modifi|chang)\\w*",
            "{denial}",
        ),
        "someone signs in": "{intruder} se (connecte|connectent|logue) (a|sur|dans) (mon|ma)"
        " (compte|messagerie)",
        "they got into my account": "(on|quelqu'un|ils) (s'est|se sont|a|ont) (connecte|connectes"
        "|acces|eu acces|accede|pirate|utilise) (a |au |sur |dans )?(mon|ma) (compte"
        "|messagerie|adresse|carte)",
        "changed, and not by me": (
            "(mot de passe|adresse( mail| e-mail)?|mail|e-mail|compte"
            "|numero|coordonnees) (a ete|ont ete|est) (modifie|change"
            "|reinitialise)e?s?|(achats?|commandes?) … (avec|sur|depuis"
            "|dans) mon compte|(alerte|connexion) (de connexion )?"
            "(depuis|au|en|a)",
            "{denial}",
        ),
        "activity I did not do": "(commandes?|achats?|connexions?|modifications?) … (sur|de|dans)"
        " mon compte … (n'ai|n'avons) (pas|jamais) (passe|passees|fait|faites|effectue"
        "|effectuees|commande|autorise)",
        "codes I did not request": "(codes?|sms|mails?|e-mails?|alertes?) … (n'ai|n'avais)"
        " (pas|jamais) (demande|demandes|demandees|sollicite)",
        "that was not me": (
            "ce n'(etait|est) pas moi|c'etait pas moi",
            "connexion|connecte|commande|achat|alerte|acces|login",
        ),
        "stolen": "vole (ma|mon|mes) (carte|compte|identite|mot de passe|identifiants)"
        "|(ma|mon) (carte|compte|identite|mot de passe) (a ete|ont ete) (vole|volee)"
        "|vol d'identite|usurpation d'identite",
        "phished": (
            "faux|fausse|phishing|hameconnage|arnaque|frauduleu|ressemblait",
            "(donne|saisi|entre|tape|mis|communique) (mon|ma|mes) (mot de passe|carte"
            "|identifiants|code|coordonnees)",
        ),
        "lock my account": "(bloquez|bloquer|suspendez|suspendre|desactivez|gelez) (mon|le) compte",
        "fraud on my account": "(fraude|activite suspecte|connexions? suspectes?"
        "|acces non autorise) (sur|de|dans) (mon|ma) (compte|carte)|victime (d'une|de)"
        " (fraude|arnaque|escroquerie)|(signaler|declarer) une fraude",
    },
    billing_dispute={
        "charged twice": "(debite|preleve|facture|paye)e?s? … (deux fois|2 fois|en double"
        "|a nouveau)|(double|deux) (prelevements?|debits?|paiements?|facturations?)"
        "|prelevement en double",
        "a charge I do not recognise": "{charge} … ne (reconnais|reconnait) pas"
        "|ne reconnais pas (ce|cet|cette|ces|le|la|les|un|une) {charge}|{charge} …"
        " (n'ai|n'avons) (pas|jamais) (autorise|demande|demandee|commande|commandee)",
        "a payment I never authorised": "(n'ai|n'avons) (jamais|pas) (autorise|valide|accepte)"
        " (ce|cet|cette|ces|le|la) (paiement|prelevement|debit|achat|transaction|abonnement)",
        "dispute a charge": "je conteste|(veux|voudrais|souhaite|vais|dois) (contester"
        "|faire opposition|refuser)|(contester|contestation) (ce|cette|le|la|ces|les|mon|ma)"
        " {charge}",
        "billed after cancelling": "(continuez|continue|continuent) (a|de) (me )?(prelever"
        "|debiter|facturer)|(preleve|debite|facture)e?s? … (alors que|bien que|meme si|apres)"
        " … (resilie|annule|arrete|resiliation|annulation)",
        "overcharged": "(trop|plus que prevu) (preleve|debite|facture|paye)|(preleve|debite"
        "|facture|pris)\\w* … (de trop|en trop)|(devaient|devait"
        "|etait|etaient|annonce|prevu) … (et|mais) (vous )?(m'avez|on m'a) (pris|preleve"
        "|debite|facture)",
        "bill is wrong": "{charge} (est|sont|etait) (faux|fausse|errone|erronee|incorrect"
        "|incorrecte)|{charge} … ne correspond pas",
        "charged for what I did not get": "(facture|preleve|debite)e?s? … (mais|alors que)"
        " (je )?(n'en ai|n'ai) (recu|eu)",
        "reverse the charge": (
            "frais|facture|preleve|debite|paye",
            "(veux|voudrais|souhaite) (qu'on|que vous) (les|le|la|l')"
            " (annule|annuliez|rembourse|remboursiez|retire|retiriez)",
        ),
        "purchases on my card I did not make": "(achats?|paiements?|prelevements?) … (sur|de) ma"
        " carte … (n'ai|n'avons) (pas|jamais) (fait|faits|effectue|effectues|autorise)",
        "billed for more than I signed up for": "(facture|preleve|debite)\\w* … (alors que"
        "|mais) (je )?(n'avais|n'ai) … (qu'\\w+|que)",
        "chargeback": "opposition (bancaire|aupres de ma banque|sur (le|ce) (prelevement"
        "|paiement))|(faire|demander) une retrofacturation",
    },
    frustration={
        "ridiculous": "n'importe quoi|le comble|(vous vous|on se|tu te) (moquez|moque|fichez"
        "|foutez) de"
        " moi|inadmissible|inacceptable|scandaleu\\w*|honteu\\w*"
        "|une honte|lamentable|ridicule|absurde|pathetique|une blague|une arnaque",
        "fed up": "j'en ai (vraiment |tellement |completement )?marre|ras le bol"
        "|(perdre|perds|perdu) (patience|ma patience)|a bout|j'en peux plus"
        "|j'en ai assez",
        "angry": "furieu(x|se)|en colere|remonte(e)? contre|fache(e)?|excede(e)?|hors de moi",
        "disappointed": "decu(e)?s?|decevant|insatisfait(e)?|mecontent(e)?"
        "|pas (content|satisfait)(e)?",
        "worst": "pire (service|sav|experience|entreprise|accueil)|(service|sav) (nul|pourri"
        "|lamentable|catastrophique|deplorable)",
        "useless": "ne (sers|sert|servez) a rien|bon a rien",
        "complaint": "(porter|deposer|faire) (une )?(plainte|reclamation)",
        "waste of time": "perte de temps|perdre mon temps",
    },
    impatience={
        "ugh": "serieusement|franchement|c'est pas vrai|oh la la|pff+|rho+",
        "not what I asked": "(ce n'est|c'est) pas (vraiment |du tout )?(ma question|ce que"
        " (j'ai demande|je demande|j'ai dit))|vous ne m'ecoutez pas|tu ne m'ecoutes pas",
        "annoying": "enervant|m'enerver|m'enerve|agacant|agace|penible",
        "again and again": "(trois|quatre|plusieurs|\\d+) fois|combien de fois"
        "|je (vous )?l'ai deja (dit|explique)",
        "unbelievable": "incroyable|pas croyable|je n'y crois pas",
        "did not help": "(ca|cela) ne m'aide pas|pas utile|rien ne (marche|fonctionne)",
    },
    not_a_request=(
        "(mon|ma|son|sa|votre) (\\w+ )?(agent|conseill(er|ere)|gestionnaire)"
        "|je suis (un |une )?(agent|conseill(er|ere))",
        "^(faut il|est-il necessaire|est-ce qu'il faut|est-ce necessaire|dois-je|doit-on|il faut)",
        "(vous etes|es-tu|etes-vous|tu es) (un |une )?(humain|robot|bot|personne|vraie personne"
        "|machine)",
    ),
    hypothetical=(
        "^(comment|que faire|quoi faire|qu'est-ce que|quand|ou|quel|quelle|quels|quelles"
        "|proposez-vous|avez-vous|est-ce sur|est-il sur)",
        "(si|au cas ou|en cas de|si jamais) (quelqu'un|mon|ma|on|je)",
    ),
    still_unresolved={
        "still": "toujours|pareil|(meme|la meme) (chose|probleme|erreur|resultat)|non plus",
        "did not work": "(ne )?(marche|fonctionne|passe) (toujours )?pas",
        "nothing": "rien (recu|ne s'affiche|n'arrive|ne marche|ne change)|toujours rien",
        "already tried": "(deja|j'ai deja) (fait|essaye|verifie|confirme)|rien dans (les|mes)"
        " spams",
    },
    non_answer=(
        "(pas|ne suis pas) sur(e)? de (bien )?(comprendre|vous comprendre|avoir compris)"
        "|(n'ai|n'avons) pas (encore )?(de |d')(reponse|information)|pas encore de reponse"
        "|je ne peux pas (vous )?aider",
    ),
    greeting=("^(bonjour|bonsoir|salut|coucou|allo|hello)( a vous| madame| monsieur)?$",),
    closing=(
        "merci|c'est tout|au revoir|bonne journee|laissez tomber|laisse tomber|tant pis"
        "|ca marche|parfait|c'est regle|j'ai trouve|c'est bon",
    ),
)
